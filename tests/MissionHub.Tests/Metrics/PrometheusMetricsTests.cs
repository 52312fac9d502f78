using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using MissionHub.Metrics;

namespace MissionHub.Tests.Metrics;

/// <summary><c>GET /metrics</c> (issue 7 §4): valid Prometheus text, with the hub's figures in it.</summary>
public sealed partial class PrometheusMetricsTests : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly List<MissionHubFactory> _factories = [];

    private MissionHubFactory StartServer(Dictionary<string, string?>? settings = null)
    {
        var factory = MissionHubFactory.WithSqlite(_folder.File($"prom-{Guid.NewGuid():N}.db"), settings);
        _factories.Add(factory);
        return factory;
    }

    public void Dispose()
    {
        foreach (var factory in _factories)
        {
            factory.Dispose();
        }
        _folder.Dispose();
    }

    [Fact]
    public async Task Metrics_IsValidPrometheusText_WithMissionsJobsAgentsEventsMonitorsRobotsAndHttp()
    {
        var factory = StartServer(new() { ["MissionHub:Metrics:AggregationInterval"] = "01:00:00" });
        using var client = factory.CreateClient();
        for (var i = 0; i < 3; i++)
        {
            await client.PostAsync(new Uri("/api/missions", UriKind.Relative), new StringContent($$"""{"name":"m{{i}}"}""", System.Text.Encoding.UTF8, "application/json"));
        }
        await client.PostAsync(new Uri("/api/jobs", UriKind.Relative), new StringContent("""{"job_type":"render"}""", System.Text.Encoding.UTF8, "application/json"));
        await using var robot = await RawWorker.ConnectAsync(factory, "/api/telemetry/ws/r1");
        await robot.SendAsync(new { cpu_usage = 45.2, memory_usage = 62.8, network_latency_ms = 12.5, battery_percentage = 78.0, motor_temp_c = 40 });
        await using var monitor = await RawWorker.ConnectAsync(factory, "/ws/monitor");
        Assert.True(await factory.Services.GetRequiredService<MissionMetricsAggregator>().RunOnceAsync(CancellationToken.None));

        Dictionary<string, double> samples = [];
        string text = "";
        await Eventually.TrueAsync(async () =>
        {
            text = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
            samples = Parse(text);
            return samples.GetValueOrDefault("missionhub_robot_telemetry{metric=\"cpu_usage\",robot_id=\"r1\"}") == 45.2
                && samples.GetValueOrDefault("missionhub_monitors_connected") == 1;
        }, TimeSpan.FromSeconds(10), "the robot and the monitor in /metrics");

        Assert.Equal(3, samples["missionhub_missions{status=\"PENDING\"}"]);
        Assert.Equal(0, samples["missionhub_missions{status=\"COMPLETED\"}"]);
        Assert.Equal(1, samples["missionhub_jobs{status=\"pending\"}"]);
        Assert.Equal(1, samples["missionhub_agents{kind=\"robot\",state=\"online\"}"]);
        Assert.Equal(1, samples["missionhub_robots_connected"]);
        Assert.Equal(78, samples["missionhub_robot_telemetry{metric=\"battery_percentage\",robot_id=\"r1\"}"]);
        Assert.DoesNotContain(samples.Keys, k => k.Contains("motor_temp_c", StringComparison.Ordinal));
        Assert.True(samples["missionhub_events_published_total"] >= 5);
        Assert.Equal(0, samples["missionhub_events_publish_failures_total"]);
        Assert.True(samples.ContainsKey("missionhub_events_store_reads_total"), "the event log's store reads are exposed");
        Assert.Equal(0, samples["missionhub_monitors_missed_events_total"]);
        Assert.True(samples["missionhub_telemetry_frames_total"] >= 1);
        Assert.True(samples["missionhub_metrics_aggregation_runs_total{outcome=\"completed\"}"] >= 1);
        Assert.Contains(samples.Keys, k => k.StartsWith("http_server_request_duration_seconds_count{", StringComparison.Ordinal)
            && k.Contains("http_route=\"/api/missions/\"", StringComparison.Ordinal));
        Assert.Contains("# TYPE missionhub_missions gauge", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE missionhub_events_published_total counter", text, StringComparison.Ordinal);

        await CheckWithPromtoolAsync(text);
    }

    [Fact]
    public async Task RobotGauges_DropRobotsThatWentOffline()
    {
        var factory = StartServer(new() { ["MissionHub:Telemetry:GaugeStaleAfter"] = "00:00:00.300" });
        using var client = factory.CreateClient();
        var robot = await RawWorker.ConnectAsync(factory, "/api/telemetry/ws/leaver");
        await robot.SendAsync(new { cpu_usage = 12.0 });
        await Eventually.TrueAsync(async () => Parse(await client.GetStringAsync(new Uri("/metrics", UriKind.Relative)))
            .ContainsKey("missionhub_robot_telemetry{metric=\"cpu_usage\",robot_id=\"leaver\"}"), TimeSpan.FromSeconds(10), "the robot's gauge");

        await robot.DisposeAsync();

        Dictionary<string, double> samples = [];
        await Eventually.TrueAsync(async () =>
        {
            samples = Parse(await client.GetStringAsync(new Uri("/metrics", UriKind.Relative)));
            // offline after a clean close; connection_broken if a loaded machine made the close handshake time out
            return !samples.Keys.Any(k => k.Contains("robot_id=\"leaver\"", StringComparison.Ordinal))
                && samples.GetValueOrDefault("missionhub_agents{kind=\"robot\",state=\"offline\"}")
                    + samples.GetValueOrDefault("missionhub_agents{kind=\"robot\",state=\"connection_broken\"}") == 1;
        }, TimeSpan.FromSeconds(10), "the offline robot to leave the telemetry gauges and be counted as gone");
        Assert.Equal(0, samples["missionhub_robots_connected"]);
    }

    /// <summary>
    /// Parses the text format line by line (failing on any line that is not a comment, blank or a valid sample) into
    /// "name{sorted labels}" → value, with the exporter's <c>otel_scope_name</c> label left out.
    /// </summary>
    [Fact]
    public async Task Metrics_PerJobType_PendingActivePausedGauges_AndCompletedFailedCounters()
    {
        var factory = StartServer();
        using var client = factory.CreateClient();
        using (var paused = await client.PostAsync(new Uri("/api/queues/held/pause", UriKind.Relative), null))
        {
            paused.EnsureSuccessStatusCode();
        }
        for (var i = 0; i < 2; i++)
        {
            await client.PostAsync(new Uri("/api/jobs", UriKind.Relative), new StringContent("""{"job_type":"held"}""", System.Text.Encoding.UTF8, "application/json"));
        }
        await using var worker = await RawWorker.RegisterAsync(factory, "w-metrics", ["held", "work"], slots: 3);
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            using var submitted = await client.PostAsync(new Uri("/api/jobs", UriKind.Relative),
                new StringContent("""{"job_type":"work","max_attempts":1}""", System.Text.Encoding.UTF8, "application/json"));
            ids.Add((await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
        }
        for (var i = 0; i < 3; i++)
        {
            await worker.ReceiveJobAsync();
        }
        await worker.CompleteAsync(ids[0]);
        await worker.FailAsync(ids[1], "no");

        Dictionary<string, double> samples = [];
        await Eventually.TrueAsync(async () =>
        {
            samples = Parse(await client.GetStringAsync(new Uri("/metrics", UriKind.Relative)));
            // The counters follow the events, the gauges the counts read per scrape: both must have caught up.
            return samples.GetValueOrDefault("missionhub_queue_failed_total{job_type=\"work\"}") == 1
                && samples.GetValueOrDefault("missionhub_queue_jobs{job_type=\"work\",status=\"active\"}") == 1;
        }, TimeSpan.FromSeconds(10), "the completed and failed jobs in /metrics");

        Assert.Equal(2, samples["missionhub_queue_jobs{job_type=\"held\",status=\"pending\"}"]);
        Assert.Equal(0, samples["missionhub_queue_jobs{job_type=\"held\",status=\"active\"}"]);
        Assert.Equal(1, samples["missionhub_queue_paused{job_type=\"held\"}"]);
        Assert.Equal(0, samples["missionhub_queue_paused{job_type=\"work\"}"]);
        Assert.Equal(1, samples["missionhub_queue_jobs{job_type=\"work\",status=\"active\"}"]);
        Assert.Equal(1, samples["missionhub_queue_completed_total{job_type=\"work\"}"]);
        Assert.Equal(1, samples["missionhub_queue_failed_total{job_type=\"work\"}"]);

        using (var resumed = await client.PostAsync(new Uri("/api/queues/held/resume", UriKind.Relative), null))
        {
            resumed.EnsureSuccessStatusCode();
        }
        await Eventually.TrueAsync(async () =>
        {
            samples = Parse(await client.GetStringAsync(new Uri("/metrics", UriKind.Relative)));
            return samples.GetValueOrDefault("missionhub_queue_paused{job_type=\"held\"}", -1) == 0
                && samples.GetValueOrDefault("missionhub_queue_jobs{job_type=\"held\",status=\"active\"}") == 2;
        }, TimeSpan.FromSeconds(10), "the resumed type unpaused and its two jobs handed out, in /metrics");
    }

    private static Dictionary<string, double> Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0)
            {
                continue;
            }
            if (line.StartsWith('#'))
            {
                Assert.Matches(CommentLine(), line);
                continue;
            }
            var match = SampleLine().Match(line);
            Assert.True(match.Success, $"not a Prometheus sample line: {line}");
            var labels = match.Groups["labels"].Success
                ? LabelPair().Matches(match.Groups["labels"].Value)
                    .Select(m => (Name: m.Groups[1].Value, Value: m.Groups[2].Value))
                    .Where(l => l.Name != "otel_scope_name")
                    .OrderBy(l => l.Name, StringComparer.Ordinal)
                    .Select(l => $"{l.Name}=\"{l.Value}\"")
                    .ToList()
                : [];
            var key = labels.Count == 0 ? match.Groups["name"].Value : $"{match.Groups["name"].Value}{{{string.Join(',', labels)}}}";
            var valueText = match.Groups["value"].Value;
            samples[key] = valueText switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                _ => double.Parse(valueText, CultureInfo.InvariantCulture),
            };
        }
        return samples;
    }

    private static async Task CheckWithPromtoolAsync(string text)
    {
        var promtool = new[] { "/usr/bin/promtool", "/usr/local/bin/promtool" }.FirstOrDefault(File.Exists);
        if (promtool is null)
        {
            return; // scripts/test installs it; the line-by-line parse above still ran
        }
        using var process = Process.Start(new ProcessStartInfo(promtool, "check metrics")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        await process.StandardInput.WriteAsync(text);
        process.StandardInput.Close();
        var output = await process.StandardOutput.ReadToEndAsync();
        var errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        // promtool exits 3 for lint advice only (e.g. a counter's name); 1 means the text does not parse.
        Assert.True(process.ExitCode is 0 or 3, $"promtool check metrics failed ({process.ExitCode}): {output}{errors}");
        Assert.DoesNotContain("error while linting", output + errors, StringComparison.OrdinalIgnoreCase);
    }

    [GeneratedRegex("""^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]*( .*)?$""")]
    private static partial Regex CommentLine();

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*)\})? (?<value>[-+]?(\d+(\.\d*)?([eE][-+]?\d+)?|Inf|NaN))( \d+)?$""")]
    private static partial Regex SampleLine();

    [GeneratedRegex("""([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)""")]
    private static partial Regex LabelPair();
}
