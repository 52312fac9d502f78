using System.Net.WebSockets;

namespace MissionHub.Client;

/// <summary>Settings of a <see cref="MonitorClient"/>.</summary>
public sealed class MonitorClientOptions
{
    /// <summary>
    /// The server: either its base address (<c>http://host:port/</c>, the client adds <c>/ws/monitor</c>) or the full
    /// monitor socket address (<c>ws://host:port/ws/monitor</c>).
    /// </summary>
    public required Uri Server { get; init; }

    /// <summary>Sent as <c>monitor_id</c>; the server logs it.</summary>
    public string MonitorId { get; init; } = "monitor-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Topics to subscribe to (DESIGN.md §4). The local state is built from <c>workers</c>, <c>jobs</c> and <c>system_stats</c>.</summary>
    public IReadOnlyList<string> Topics { get; init; } = ["workers", "jobs", "system_stats"];

    /// <summary>Optional server-side filters. With filters the local state only follows the matching jobs and workers after the snapshot.</summary>
    public MonitorFilters? Filters { get; init; }

    /// <summary>Ask the server to send queued events together as <c>event_batch</c> frames.</summary>
    public bool Batching { get; init; }

    /// <summary>How often a <c>heartbeat</c> is sent; its answer tells whether events were missed.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>No frame at all from the server for this long (an answer to a heartbeat at least) means the connection is dead: reconnect.</summary>
    public TimeSpan ReceiveTimeout { get; init; } = TimeSpan.FromSeconds(95);

    /// <summary>First delay before reconnecting; doubles per failed attempt up to <see cref="ReconnectMaxDelay"/> (with jitter).</summary>
    public TimeSpan ReconnectMinDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest wait between reconnect attempts (the backoff doubles up to it).</summary>
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Finished jobs kept per outcome (completed, failed), newest first, as the server's snapshot keeps them.</summary>
    public int RecentFinishedKept { get; init; } = 100;

    /// <summary>An API key (or JWT) with the <c>viewer</c> role, sent as <c>Authorization: Bearer</c>; null in protected mode.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Called on each new socket before it connects (headers, proxy, deflate…).</summary>
    public Action<ClientWebSocketOptions>? ConfigureSocket { get; init; }
}

/// <summary>The <c>filters</c> of a <c>subscribe</c>: each null one is not applied.</summary>
public sealed record MonitorFilters(
    IReadOnlyList<string>? JobTypes = null,
    IReadOnlyList<string>? WorkerIds = null,
    (int Min, int Max)? PriorityRange = null);
