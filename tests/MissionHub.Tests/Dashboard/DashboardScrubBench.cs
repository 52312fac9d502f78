using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit.Abstractions;

namespace MissionHub.Tests.Dashboard;

/// <summary>
/// The time-travel scrubber under load: 1,000 active jobs held by a real worker and a few thousand progress events after
/// them, the Jobs view open; each scrub types a seq into the timeline and times, inside the page, from the submit to the
/// start of the frame after the one that drew the store at that seq (fetched, loaded and drawn, then painted), with the
/// time its requests took and the time the drawing took. Measures, does not check.
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
        var fetches = new List<double>();
        var draws = new List<double>();
        for (var i = 0; i < Scrubs; i++)
        {
            // Every seq after the last assignment: each state holds all 1,000 active jobs.
            var seq = allActive + random.NextInt64(lastSeq - allActive - 1);
            var timing = await page.EvaluateAsync<double[]>("""
                async (seq) => {
                  performance.clearResourceTimings();
                  const t0 = performance.now();
                  document.getElementById('tl-seq').value = String(seq);
                  document.getElementById('tl-seq-form').requestSubmit();
                  // Until a frame has drawn the store at that seq, then the start of the next frame (the drawn one is painted).
                  await new Promise((done) => {
                    const drawn = () => window.missionHub.renderedSeq === seq ? requestAnimationFrame(done) : requestAnimationFrame(drawn);
                    drawn();
                  });
                  const total = performance.now() - t0;
                  const fetch = performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/'));
                  const m = window.missionHub;
                  return [total, fetch.reduce((sum, e) => sum + e.duration, 0), m.seqRenderMs];
                }
                """, seq);
            times.Add(timing[0]);
            fetches.Add(timing[1]);
            draws.Add(timing[2]);
        }
        var active = await page.EvaluateAsync<int>("() => document.querySelectorAll('#jobs-active li').length");
        times.Sort();
        fetches.Sort();
        draws.Sort();
        var line = string.Create(CultureInfo.InvariantCulture,
            $"checkpoint_every={checkpointEvery ?? "default"} scrubs={Scrubs} active_jobs={ActiveJobs} rows_in_active_lane={active} p50_ms={times[Scrubs / 2]:0.0} p90_ms={times[(int)(Scrubs * 0.9)]:0.0} max_ms={times[^1]:0.0} "
            + $"requests_p50_ms={fetches[Scrubs / 2]:0.0} requests_p90_ms={fetches[(int)(Scrubs * 0.9)]:0.0} draw_p50_ms={draws[Scrubs / 2]:0.0} draw_p90_ms={draws[(int)(Scrubs * 0.9)]:0.0} errors={errors.Count}");
        output.WriteLine(line);
        File.WriteAllText(Path.Combine(browser.ScreenshotFolder, "bench-scrub.txt"), line + Environment.NewLine);
        Assert.Empty(errors);
    }
}
