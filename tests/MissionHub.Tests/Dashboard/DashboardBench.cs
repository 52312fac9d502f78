using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit.Abstractions;

namespace MissionHub.Tests.Dashboard;

/// <summary>Runs only when <c>MISSIONHUB_DASHBOARD_BENCH=1</c>: it takes a minute and measures, it does not check.</summary>
public sealed class DashboardBenchFactAttribute : FactAttribute
{
    public DashboardBenchFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("MISSIONHUB_DASHBOARD_BENCH") != "1")
        {
            Skip = "a one-minute measurement: run with MISSIONHUB_DASHBOARD_BENCH=1 (see docs/benchmarks.md, Dashboard)";
        }
    }
}

/// <summary>
/// The page under load: 1,000 active jobs held by a real worker, then ~100 events/s (job_progress from the
/// worker, plus the system_stats and mission events they cause) for 60 s, with the Jobs view open (the
/// heaviest one). Reads the page's own counters: events applied, long tasks, frames rendered.
/// </summary>
public sealed class DashboardBench(BrowserFixture browser, ITestOutputHelper output) : IClassFixture<BrowserFixture>
{
    [DashboardBenchFact]
    public async Task Dashboard_At100EventsPerSecond_With1000ActiveJobs()
    {
        using var folder = new TempFolder();
        await using var server = MissionHubFactory.WithSqlite(folder.File("bench.db"));
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        var seconds = int.Parse(Environment.GetEnvironmentVariable("MISSIONHUB_DASHBOARD_BENCH_SECONDS") ?? "60", CultureInfo.InvariantCulture);
        var view = Environment.GetEnvironmentVariable("MISSIONHUB_DASHBOARD_BENCH_VIEW") ?? "jobs";

        await using var worker = await RawWorker.RegisterAsync(server, "w-bench", ["bench"], slots: 1000);
        var ids = new List<string>();
        for (var i = 0; i < 1000; i++)
        {
            using var response = await http.PostAsJsonAsync("/api/jobs", new { job_type = "bench", priority = i % 10 });
            ids.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
        }
        for (var i = 0; i < ids.Count; i++)
        {
            await worker.ReceiveJobAsync(TimeSpan.FromSeconds(30));
        }

        var (context, page, errors) = await browser.NewPageAsync();
        await using var _ = context;
        await page.GotoAsync(new Uri(server.BaseAddress, "/#/" + view).ToString());
        await Microsoft.Playwright.Assertions.Expect(page.Locator("#conn")).ToHaveAttributeAsync("data-state", "live");
        await Eventually.TrueAsync(async () => await page.EvaluateAsync<int>("() => window.missionHub.jobCounts().active") == 1000,
            TimeSpan.FromSeconds(15), "the page to hold the 1,000 active jobs");

        var startApplied = await page.EvaluateAsync<double>("() => window.missionHub.eventsApplied");
        var startLong = await page.EvaluateAsync<double>("() => window.missionHub.longTasks");
        var startLongMs = await page.EvaluateAsync<double>("() => window.missionHub.longTaskMs");
        var startRenders = await page.EvaluateAsync<double>("() => window.missionHub.renders");
        var clock = Stopwatch.StartNew();
        var sent = 0;
        var random = new Random(7);
        while (clock.Elapsed < TimeSpan.FromSeconds(seconds))
        {
            // 100 progress frames a second, sent in 10 ms steps.
            var due = (int)(clock.Elapsed.TotalSeconds * 100);
            while (sent < due)
            {
                await worker.ProgressAsync(ids[random.Next(ids.Count)], Math.Round(random.NextDouble(), 2));
                sent++;
            }
            await Task.Delay(10);
        }
        var elapsed = clock.Elapsed.TotalSeconds;
        var lastSeq = (await http.GetJsonAsync("/api/events?limit=1&after_seq=0")).GetProperty("last_seq").GetInt64();
        await Eventually.TrueAsync(async () => await page.EvaluateAsync<double>("() => window.missionHub.lastSeq") >= lastSeq,
            TimeSpan.FromSeconds(10), "the page to catch up");
        var applied = await page.EvaluateAsync<double>("() => window.missionHub.eventsApplied") - startApplied;
        var longTasks = await page.EvaluateAsync<double>("() => window.missionHub.longTasks") - startLong;
        var longMs = await page.EvaluateAsync<double>("() => window.missionHub.longTaskMs") - startLongMs;
        var renders = await page.EvaluateAsync<double>("() => window.missionHub.renders") - startRenders;
        var line = string.Create(CultureInfo.InvariantCulture,
            $"view={view} seconds={elapsed:0.0} progress_sent={sent} events_applied={applied} rate={applied / elapsed:0.0}/s long_tasks={longTasks} long_task_ms={longMs:0} frames_rendered={renders} ({renders / elapsed:0.0}/s) errors={errors.Count}");
        output.WriteLine(line);
        File.WriteAllText(Path.Combine(browser.ScreenshotFolder, $"bench-{view}.txt"), line + Environment.NewLine);
        Assert.Empty(errors);
    }
}
