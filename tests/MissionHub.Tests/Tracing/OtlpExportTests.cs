using System.Net;

namespace MissionHub.Tests.Tracing;

/// <summary>With <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> set, the server exports its spans over OTLP/HTTP to that endpoint.</summary>
public sealed class OtlpExportTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private readonly HttpListener _collector = new();
    private readonly List<(string Path, string ContentType, long Length)> _received = [];
    private ServerProcess _server = null!;
    private Task _listening = Task.CompletedTask;

    public async Task InitializeAsync()
    {
        var port = MissionHubFactory.FreePort();
        _collector.Prefixes.Add($"http://127.0.0.1:{port}/");
        _collector.Start();
        _listening = Task.Run(async () =>
        {
            while (_collector.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _collector.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }
                using var body = new MemoryStream();
                await context.Request.InputStream.CopyToAsync(body);
                lock (_received)
                {
                    _received.Add((context.Request.Url!.AbsolutePath, context.Request.ContentType ?? "", body.Length));
                }
                context.Response.StatusCode = 200;
                context.Response.Close();
            }
        });
        // Its own process, so the standard OTEL_* environment variables are the server's alone.
        _server = ServerProcess.Start(new Dictionary<string, string>
        {
            ["MissionHub__Storage__Sqlite__Path"] = _folder.File("hub.db"),
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://127.0.0.1:{port}",
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
            ["OTEL_SERVICE_NAME"] = "missionhub-otlp-test",
        }, _folder.Path);
        await _server.WaitUntilReadyAsync();
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _collector.Stop();
        _collector.Close();
        await _listening.WaitAsync(TimeSpan.FromSeconds(5));
        _folder.Dispose();
    }

    [Fact]
    public async Task Spans_AndMetrics_AreExportedOverOtlpHttp_WhenTheEndpointIsSet()
    {
        using var http = _server.CreateClient();
        using var response = await http.PostAsync(new Uri("/api/jobs", UriKind.Relative),
            new StringContent("""{"job_type":"render"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);

        bool Got(string path)
        {
            lock (_received)
            {
                return _received.Any(r => r.Path == path && r.ContentType.StartsWith("application/x-protobuf", StringComparison.Ordinal) && r.Length > 0);
            }
        }
        await Eventually.TrueAsync(() => Got("/v1/traces"), TimeSpan.FromSeconds(20), "an OTLP trace export");
        await Eventually.TrueAsync(() => Got("/v1/metrics"), TimeSpan.FromSeconds(20), "an OTLP metrics export");
    }
}
