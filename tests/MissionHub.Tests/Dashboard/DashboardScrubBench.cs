using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit.Abstractions;

namespace MissionHub.Tests.Dashboard;

/// <summary>
/// The time-travel scrubber under load: 1,000 active jobs held by a real worker and a few thousand progress events after
/// them, the Jobs view open; each scrub types a seq into the timeline and times, inside the page, from the submit to the
/// second frame after the view shows that seq (the state fetched, loaded into a store and drawn). Measures, does not check.
/// </summary>
public sealed class DashboardScrubBench(BrowserFixture browser, ITestOutputHelper output) : IClassFixture<BrowserFixture>
{
    private const int ActiveJobs = 1000;

    private const int Scrubs = 40;

    [DashboardBenchFact]
    public async Task Scrub_With1000ActiveJobs_TimeToRedraw()
    {
        using var folder = new TempFolder();
        // MISSIONHUB_DASHBOARD_BENCH_CHECKPOINT_EVERY: how far apart the stored states a scrub rebuilds from are.
        var checkpointEvery = Environment.GetEnvironmentVariable("MISSIONHUB_DASHBOARD_BENCH_CHECKPOINT_EVERY");
        await using var server = MissionHubFactory.WithSqlite(folder.File("scrub.db"),
            checkpointEvery is null ? null : new Dictionary<string, string?> { ["MissionHub:History:CheckpointEvery"] = checkpointEvery });
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        await using var worker = await RawWorker.RegisterAsync(server, "w-scrub", ["bench"], slots: ActiveJobs);
        var ids = new List<string>();
        for (var i = 0; i < ActiveJobs; i++)
        {
            using var response = await http.PostAsJsonAsync("/api/jobs", new { job_type = "bench", priority = i % 10 });
            ids.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
        }
        for (var i = 0; i < ids.Count; i++)
        {
            await worker.ReceiveJobAsync(TimeSpan.FromSeconds(30));
        }
        var allActive = (await http.GetJsonAsync("/api/events?limit=1&after_seq=0")).GetProperty("last_seq").GetInt64();
        var random = new Random(11);
        for (var i = 0; i < 3000; i++)
        {
            await worker.ProgressAsync(ids[random.Next(ids.Count)], Math.Round(random.NextDouble(), 2));
        }
        var lastSeq = 0L;
        await Eventually.TrueAsync(async () => (lastSeq = (await http.GetJsonAsync("/api/events?limit=1&after_seq=0")).GetProperty("last_seq").GetInt64()) >= allActive + 3000,
            TimeSpan.FromSeconds(60), "the progress events to be in the log");

        var (context, page, errors) = await browser.NewPageAsync();
        await using var _ = context;
        await page.GotoAsync(new Uri(server.BaseAddress, "/#/jobs").ToString());
        await Microsoft.Playwright.Assertions.Expect(page.Locator("#conn")).ToHaveAttributeAsync("data-state", "live");
        await page.ClickAsync("#tl-toggle");

        var times = new List<double>();
        for (var i = 0; i < Scrubs; i++)
        {
            // Every seq after the last assignment: each state holds all 1,000 active jobs.
            var seq = allActive + random.NextInt64(lastSeq - allActive - 1);
            times.Add(await page.EvaluateAsync<double>("""
                async (seq) => {
                  const t0 = performance.now();
                  document.getElementById('tl-seq').value = String(seq);
                  document.getElementById('tl-seq-form').requestSubmit();
                  await new Promise((done) => {
                    const shown = () => document.body.dataset.historySeq === String(seq)
                      ? requestAnimationFrame(() => requestAnimationFrame(done))
                      : requestAnimationFrame(shown);
                    shown();
                  });
                  return performance.now() - t0;
                }
                """, seq));
        }
        var active = await page.EvaluateAsync<int>("() => document.querySelectorAll('#jobs-active li').length");
        times.Sort();
        var line = string.Create(CultureInfo.InvariantCulture,
            $"checkpoint_every={checkpointEvery ?? "default"} scrubs={Scrubs} active_jobs={ActiveJobs} rows_in_active_lane={active} p50_ms={times[Scrubs / 2]:0.0} p90_ms={times[(int)(Scrubs * 0.9)]:0.0} max_ms={times[^1]:0.0} errors={errors.Count}");
        output.WriteLine(line);
        File.WriteAllText(Path.Combine(browser.ScreenshotFolder, "bench-scrub.txt"), line + Environment.NewLine);
        Assert.Empty(errors);
    }
}
