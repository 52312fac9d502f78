using System.Net.WebSockets;

namespace MissionHub.Client;

/// <summary>How a <see cref="WorkerClient"/> connects and what it offers the hub.</summary>
public sealed record WorkerClientOptions
{
    /// <summary>The hub's base address, <c>http(s)://host:port/</c> (or <c>ws(s)://</c>); the socket is <c>/ws/worker</c> under it.</summary>
    public required Uri ServerUri { get; init; }

    /// <summary>1 to 128 letters, digits, '-', '_', '.' or ':'. Reconnects register with the same id, so the hub hands back held jobs.</summary>
    public required string WorkerId { get; init; }

    /// <summary>The job types this worker runs (1 to 100).</summary>
    public required IReadOnlyList<string> JobTypes { get; init; }

    /// <summary>Handlers run at once (1 to 1000); the hub never assigns more.</summary>
    public int MaxConcurrentJobs { get; init; } = 1;

    /// <summary>How often a heartbeat is sent; the hub drops a worker silent for 30 s by default.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>First wait before reconnecting; doubles per failed attempt, with ±25 % jitter.</summary>
    public TimeSpan ReconnectMinDelay { get; init; } = TimeSpan.FromSeconds(0.5);

    /// <summary>Longest wait between reconnect attempts.</summary>
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Limit on connecting and on waiting for <c>registered</c>.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>On shutdown, how long handlers get to finish after their token is cancelled, and the close handshake to complete.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>An API key with the <c>worker</c> role (<c>mh_…</c>), sent as <c>Authorization: Bearer</c>; null in protected mode.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Extra socket settings (headers, proxy, certificates).</summary>
    public Action<ClientWebSocketOptions>? ConfigureSocket { get; init; }

    internal Uri WorkerSocketUri
    {
        get
        {
            var builder = new UriBuilder(ServerUri)
            {
                Scheme = ServerUri.Scheme switch
                {
                    "https" or "wss" => "wss",
                    _ => "ws",
                },
            };
            builder.Path = builder.Path.TrimEnd('/') + "/ws/worker";
            return builder.Uri;
        }
    }

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(ServerUri);
        if (!ServerUri.IsAbsoluteUri || ServerUri.Scheme is not ("http" or "https" or "ws" or "wss"))
        {
            throw new ArgumentException($"ServerUri must be an absolute http(s) or ws(s) address, not '{ServerUri}'", nameof(ServerUri));
        }
        if (string.IsNullOrEmpty(WorkerId) || WorkerId.Length > 128 || !WorkerId.All(IsNameChar))
        {
            throw new ArgumentException($"WorkerId must be 1 to 128 letters, digits, '-', '_', '.' or ':', not '{WorkerId}'", nameof(WorkerId));
        }
        if (JobTypes is null || JobTypes.Count is 0 or > 100 || JobTypes.Any(t => string.IsNullOrEmpty(t) || t.Length > 100 || !t.All(IsNameChar)))
        {
            throw new ArgumentException("JobTypes must list 1 to 100 job types of 1 to 100 letters, digits, '-', '_', '.' or ':'", nameof(JobTypes));
        }
        if (MaxConcurrentJobs is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxConcurrentJobs), MaxConcurrentJobs, "MaxConcurrentJobs must be from 1 to 1000");
        }
        if (HeartbeatInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(HeartbeatInterval), HeartbeatInterval, "HeartbeatInterval must be positive");
        }
        if (ReconnectMinDelay <= TimeSpan.Zero || ReconnectMaxDelay < ReconnectMinDelay)
        {
            throw new ArgumentOutOfRangeException(nameof(ReconnectMinDelay), ReconnectMinDelay, "ReconnectMinDelay must be positive and at most ReconnectMaxDelay");
        }
        if (ConnectTimeout <= TimeSpan.Zero || ShutdownTimeout < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ConnectTimeout), "ConnectTimeout must be positive and ShutdownTimeout not negative");
        }
    }

    /// <summary>The wait before reconnect attempt <paramref name="failures"/> (1-based): min·2^(n-1), ±25 % by <paramref name="jitter"/> in [0, 1), within [min, max].</summary>
    internal TimeSpan ReconnectDelay(int failures, double jitter)
    {
        var exponent = Math.Min(Math.Max(failures, 1) - 1, 30);
        var baseSeconds = Math.Min(ReconnectMaxDelay.TotalSeconds, ReconnectMinDelay.TotalSeconds * Math.Pow(2, exponent));
        var seconds = baseSeconds * (0.75 + 0.5 * jitter);
        return TimeSpan.FromSeconds(Math.Clamp(seconds, ReconnectMinDelay.TotalSeconds, ReconnectMaxDelay.TotalSeconds));
    }

    private static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':';
}
