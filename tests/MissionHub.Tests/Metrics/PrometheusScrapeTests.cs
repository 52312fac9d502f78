using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MissionHub.Client;

namespace MissionHub.Tests.Metrics;

/// <summary>
/// A real Prometheus (Debian's <c>prometheus</c>, installed by scripts/test) scrapes a real server on loopback every
/// second; the series and the Grafana dashboard's queries are checked through Prometheus's own HTTP API. The server
/// runs as its own process, as in production: in-process test servers share the ASP.NET Core meters of the process,
/// and their HTTP series would be duplicated in each other's /metrics.
/// </summary>
public sealed class PrometheusScrapeTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private ServerProcess _server = null!;
    private Process? _prometheus;
    private readonly StringBuilder _prometheusOutput = new();
    private HttpClient _api = null!;

    public async Task InitializeAsync()
    {
        // The mission gauges come from the aggregation job: every second here, so the dashboard has them.
        _server = ServerProcess.Start(new Dictionary<string, string>
        {
            ["MissionHub__Storage__Provider"] = "sqlite",
            ["MissionHub__Storage__Sqlite__Path"] = _folder.File("hub.db"),
            ["MissionHub__Storage__Sqlite__Synchronous"] = "normal",
            ["MissionHub__Metrics__AggregateAtStart"] = "true",
            ["MissionHub__Metrics__AggregationInterval"] = "00:00:01",
        }, _folder.Path);
        await _server.WaitUntilReadyAsync();
        var target = _server.BaseAddress;
        var binary = new[] { "/usr/bin/prometheus", "/usr/local/bin/prometheus" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("prometheus is not installed: ./scripts/test installs it (apt-get install prometheus)");
        var port = MissionHubFactory.FreePort();
        var config = _folder.File("prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: missionhub
                metrics_path: /metrics
                static_configs:
                  - targets: ["127.0.0.1:{target.Port}"]
            """);
        var start = new ProcessStartInfo(binary)
        {
            ArgumentList =
            {
                $"--config.file={config}",
                $"--storage.tsdb.path={_folder.File("tsdb")}",
                $"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _folder.Path,
        };
        _prometheus = Process.Start(start)!;
        _prometheus.OutputDataReceived += (_, e) => { lock (_prometheusOutput) { _prometheusOutput.AppendLine(e.Data); } };
        _prometheus.ErrorDataReceived += (_, e) => { lock (_prometheusOutput) { _prometheusOutput.AppendLine(e.Data); } };
        _prometheus.BeginOutputReadLine();
        _prometheus.BeginErrorReadLine();
        _api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        await Eventually.TrueAsync(async () =>
        {
            if (_prometheus.HasExited)
            {
                throw new InvalidOperationException($"prometheus exited with {_prometheus.ExitCode}: {Output}");
            }
            try
            {
                return (await _api.GetAsync(new Uri("/-/ready", UriKind.Relative))).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(30), "prometheus to be ready");
    }

    private string Output { get { lock (_prometheusOutput) { return _prometheusOutput.ToString(); } } }

    public async Task DisposeAsync()
    {
        if (_prometheus is { HasExited: false })
        {
            _prometheus.Kill(entireProcessTree: true);
            await _prometheus.WaitForExitAsync();
        }
        _prometheus?.Dispose();
        _api.Dispose();
        await _server.DisposeAsync();
        _folder.Dispose();
    }

    /// <summary>The instant vector of a PromQL query: (labels, value) per series.</summary>
    private async Task<List<(JsonObject Labels, double Value)>> QueryAsync(string promql)
    {
        var body = JsonNode.Parse(await _api.GetStringAsync(new Uri($"/api/v1/query?query={Uri.EscapeDataString(promql)}", UriKind.Relative)))!;
        Assert.True(body["status"]!.GetValue<string>() == "success", $"{promql}: {body.ToJsonString()}");
        return body["data"]!["result"]!.AsArray()
            .Select(r => (r!["metric"]!.AsObject(), double.Parse(r["value"]![1]!.GetValue<string>(), CultureInfo.InvariantCulture)))
            .ToList();
    }

    private async Task<double> ScalarAsync(string promql) => (await QueryAsync(promql)).Sum(r => r.Value);

    [Fact]
    public async Task Prometheus_ScrapesTheSeries_AndSeesThemChangeUnderLoad()
    {
        await Eventually.TrueAsync(async () => (await QueryAsync("up{job=\"missionhub\"} == 1")).Count == 1,
            TimeSpan.FromSeconds(20), $"prometheus to scrape the server ({Output})");
        var publishedBefore = await ScalarAsync("missionhub_events_published_total");
        var target = (await QueryAsync("target_info")).Single().Labels;
        Assert.Equal("missionhub", target["service_name"]!.GetValue<string>());

        // Load: a real worker completes jobs, missions are created and moved, a robot streams.
        var worker = new WorkerClient(new WorkerClientOptions { ServerUri = _server.BaseAddress, WorkerId = "prom-1", JobTypes = ["render"], MaxConcurrentJobs = 4 });
        using var stop = new CancellationTokenSource();
        var run = worker.RunAsync((job, _) => Task.FromResult<JsonElement?>(JsonSerializer.SerializeToElement(new { ok = true })), stop.Token);
        using var http = _server.CreateClient();
        const int jobs = 20;
        for (var i = 0; i < jobs; i++)
        {
            using var submitted = await http.PostAsJsonAsync("/api/jobs", new { job_type = "render", priority = i % 3 });
            submitted.EnsureSuccessStatusCode();
            using var mission = await http.PostAsJsonAsync("/api/missions", new { name = $"load {i}" });
            mission.EnsureSuccessStatusCode();
        }

        await Eventually.TrueAsync(async () => await ScalarAsync("missionhub_jobs{status=\"completed\"}") >= jobs,
            TimeSpan.FromSeconds(30), "prometheus to see every job completed");
        await Eventually.TrueAsync(async () => await ScalarAsync("missionhub_events_published_total") >= publishedBefore + 4 * jobs,
            TimeSpan.FromSeconds(20), "prometheus to see the events published grow");
        await Eventually.TrueAsync(async () => await ScalarAsync("increase(missionhub_events_published_total[1m])") > 0,
            TimeSpan.FromSeconds(20), "a positive increase of the events counter");
        Assert.True(await ScalarAsync("missionhub_events_last_seq") >= 4 * jobs);
        Assert.Equal(0, await ScalarAsync("missionhub_events_publish_failures_total"));

        // Rates need two scrapes that saw the requests: waited for, like every other figure Prometheus reports.
        var routes = new Dictionary<string, double>();
        await Eventually.TrueAsync(async () =>
        {
            routes = (await QueryAsync("sum by (http_route) (http_server_request_duration_seconds_count)"))
                .ToDictionary(r => r.Labels["http_route"]?.GetValue<string>() ?? "", r => r.Value);
            return routes.GetValueOrDefault("/api/jobs/") >= jobs && routes.GetValueOrDefault("/api/missions/") >= jobs;
        }, TimeSpan.FromSeconds(20), "the HTTP request counts of the load");
        Assert.NotEmpty(await QueryAsync("http_server_request_duration_seconds_bucket{le=\"+Inf\"}"));
        await Eventually.TrueAsync(async () => await ScalarAsync("histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket[1m])))") > 0,
            TimeSpan.FromSeconds(20), "a p99 HTTP latency from the histogram");
        Assert.Equal(1, await ScalarAsync("sum(missionhub_agents{kind=\"worker\",state=~\"idle|busy\"})"));

        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));

        await DashboardQueries_AllAnswerWithData();
    }

    /// <summary>Every query of docs/grafana/missionhub.json runs on this Prometheus and returns series.</summary>
    private async Task DashboardQueries_AllAnswerWithData()
    {
        var dashboard = JsonNode.Parse(await File.ReadAllTextAsync(FindRepoFile("docs/grafana/missionhub.json")))!;
        var expressions = dashboard["panels"]!.AsArray().SelectMany(p => p!["targets"]!.AsArray()).Select(t => t!["expr"]!.GetValue<string>()).ToList();
        Assert.NotEmpty(expressions);
        foreach (var expression in expressions)
        {
            var promql = expression.Replace("$__rate_interval", "1m", StringComparison.Ordinal).Replace("$job", "missionhub", StringComparison.Ordinal);
            await Eventually.TrueAsync(async () => (await QueryAsync(promql)).Count > 0, TimeSpan.FromSeconds(15), $"dashboard query {promql} to return series");
        }
    }

    private static string FindRepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException($"{relative} not found above {AppContext.BaseDirectory}");
    }
}
