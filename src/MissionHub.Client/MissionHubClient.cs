using System.Net.Http.Headers;

namespace MissionHub.Client;

/// <summary>Where the hub is and how to authenticate: the one <see cref="HttpClient"/> setup every typed client shares.</summary>
public sealed record MissionHubClientOptions
{
    /// <summary>The hub's URL, e.g. <c>http://localhost:5080</c>.</summary>
    public required Uri Server { get; init; }

    /// <summary>An API key (<c>mh_…</c>), sent as <c>X-Api-Key</c>; null in protected mode (loopback without keys).</summary>
    public string? ApiKey { get; init; }

    /// <summary>Timeout of one request until its answer's headers (event streams then stay open). Default 30 s.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Every REST area of the hub on one <see cref="HttpClient"/>: <see cref="Missions"/>, <see cref="Jobs"/>,
/// <see cref="Queues"/>, <see cref="Schedules"/>, <see cref="Keys"/>, <see cref="Supervisor"/>,
/// <see cref="Telemetry"/> and <see cref="Events"/>. Every refusal is a
/// <see cref="MissionHubApiException"/> carrying the problem+json answer.
/// </summary>
public sealed class MissionHubClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;

    /// <summary>A client on its own <see cref="HttpClient"/> made from <paramref name="options"/> (disposed with it).</summary>
    public MissionHubClient(MissionHubClientOptions options)
        : this(CreateHttpClient(options), ownsHttp: true)
    {
    }

    /// <summary>A client on <paramref name="http"/> (its <see cref="HttpClient.BaseAddress"/> is the hub); the caller keeps ownership.</summary>
    public MissionHubClient(HttpClient http)
        : this(http, ownsHttp: false)
    {
    }

    private MissionHubClient(HttpClient http, bool ownsHttp)
    {
        _http = http;
        _ownsHttp = ownsHttp;
        Missions = new MissionsClient(http);
        Jobs = new JobsClient(http);
        Queues = new QueuesClient(http);
        Schedules = new SchedulesClient(http);
        Keys = new KeysClient(http);
        Supervisor = new SupervisorClient(http);
        Telemetry = new TelemetryClient(http);
        Events = new EventsClient(http);
    }

    /// <summary><c>/api/missions</c>.</summary>
    public MissionsClient Missions { get; }

    /// <summary><c>/api/jobs</c>: submit, list, cancel, and retry or purge finished jobs.</summary>
    public JobsClient Jobs { get; }

    /// <summary><c>/api/queues</c>.</summary>
    public QueuesClient Queues { get; }

    /// <summary><c>/api/schedules</c>.</summary>
    public SchedulesClient Schedules { get; }

    /// <summary><c>/api/auth/keys</c> (admin).</summary>
    public KeysClient Keys { get; }

    /// <summary><c>/api/supervisor</c>.</summary>
    public SupervisorClient Supervisor { get; }

    /// <summary><c>/api/telemetry</c> and <c>/api/metrics/missions</c>.</summary>
    public TelemetryClient Telemetry { get; }

    /// <summary><c>/api/events</c>, the SSE stream and <c>/api/health</c>.</summary>
    public EventsClient Events { get; }

    /// <summary>
    /// An <see cref="HttpClient"/> set up for the hub: base address, <c>X-Api-Key</c> when a key is given, JSON accepted,
    /// a user agent naming this client. Use it for your own typed clients or with <c>IHttpClientFactory</c>.
    /// </summary>
    public static HttpClient CreateHttpClient(MissionHubClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var http = new HttpClient { BaseAddress = WithTrailingSlash(options.Server), Timeout = options.Timeout };
        Configure(http, options);
        return http;
    }

    /// <summary>Applies <paramref name="options"/> to an existing <see cref="HttpClient"/> (e.g. one from <c>IHttpClientFactory</c>).</summary>
    public static void Configure(HttpClient http, MissionHubClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(options);
        http.BaseAddress = WithTrailingSlash(options.Server);
        http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("MissionHub.Client", typeof(MissionHubClient).Assembly.GetName().Version?.ToString(3) ?? "1.0"));
        if (!string.IsNullOrEmpty(options.ApiKey))
        {
            http.DefaultRequestHeaders.Add("X-Api-Key", options.ApiKey);
        }
    }

    /// <summary>Disposes the <see cref="HttpClient"/> if this client made it.</summary>
    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    private static Uri WithTrailingSlash(Uri server) =>
        server.AbsoluteUri.EndsWith('/') ? server : new Uri(server.AbsoluteUri + "/");
}
