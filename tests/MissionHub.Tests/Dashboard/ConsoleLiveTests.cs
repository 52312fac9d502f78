using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MissionHub.Tests.Dashboard;

/// <summary>
/// The console's live charts (fed by events: no HTTP request in steady state), keyboard navigation of the views, and the
/// layout at 390 px and on a 4K screen, in a real Chromium against the real server.
/// </summary>
public sealed class ConsoleLiveTests(BrowserFixture browser) : LivePageTests(browser)
{
    private static Task<JsonElement> ChartsAsync(IPage page) => page.EvaluateAsync<JsonElement>("() => window.missionHub.liveCharts()");

    [Fact]
    public async Task LiveCharts_UpdateFromEvents_WithNoHttpRequestIn10sOfSteadyState()
    {
        var server = Server();
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        await using var worker = await RawWorker.RegisterAsync(server.BaseAddress, "w-steady", ["render"]);
        worker.StartHeartbeats(TimeSpan.FromSeconds(2));
        var page = await OpenAsync(server, "#/overview");
        await Expect(page.Locator("#lc-jobs .uplot")).ToBeVisibleAsync();

        // Steady state: a job submitted every 200 ms (by this test, not the page), each completed by the worker.
        using var stop = new CancellationTokenSource();
        var submitter = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var _ = await http.PostAsJsonAsync("/api/jobs", new { job_type = "render" });
                await Task.Delay(200);
            }
        });
        var runner = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var job = await worker.ReceiveJobAsync(TimeSpan.FromSeconds(1));
                    await worker.CompleteAsync(job.GetProperty("id").GetString()!, new { ok = true });
                }
                catch (OperationCanceledException)
                {
                }
            }
        });
        await Eventually.TrueAsync(async () => (await ChartsAsync(page)).GetProperty("completed").GetInt32() >= 3, TimeSpan.FromSeconds(10), "completions on the charts");

        var requests = new List<string>();
        page.Request += (_, request) => requests.Add(request.Url);
        var before = await ChartsAsync(page);
        await Task.Delay(TimeSpan.FromSeconds(10)); // the steady state measured: nothing to poll for, only time passing
        var after = await ChartsAsync(page);
        await stop.CancelAsync();
        await Task.WhenAll(submitter, runner);

        Assert.Empty(requests);
        Assert.True(after.GetProperty("submitted").GetInt32() >= before.GetProperty("submitted").GetInt32() + 20,
            $"submitted on the charts: {before} → {after}");
        Assert.True(after.GetProperty("completed").GetInt32() >= before.GetProperty("completed").GetInt32() + 20, $"completed: {before} → {after}");
        Assert.True(after.GetProperty("draws").GetInt32() >= before.GetProperty("draws").GetInt32() + 8, $"redraws: {before} → {after}");
        var series = after.GetProperty("series");
        Assert.Contains("submitted", series.GetProperty("jobs").EnumerateArray().Select(s => s.GetString()));
        Assert.Contains("render", series.GetProperty("depth").EnumerateArray().Select(s => s.GetString()));
        Assert.Contains("hub", series.GetProperty("sources").EnumerateArray().Select(s => s.GetString()));
        await Browser.ScreenshotAsync(page, "overview-live-charts");
        foreach (var errors in PageErrors)
        {
            Assert.Empty(errors);
        }
    }

    [Fact]
    public async Task LiveCharts_AcrossAReconnect_CountEveryMissedEventInTheSecondItHappened()
    {
        var database = Folder.File("charts.db");
        var port = BrowserFixture.FreePort();
        var first = MissionHubFactory.WithSqlite(database, port: port);
        var page = await OpenAsync(first, "#/overview");
        await Expect(page.Locator("#lc-jobs .uplot")).ToBeVisibleAsync();

        // The server goes away; the same hub (same event log) takes jobs while the page cannot hear it.
        await first.DisposeAsync();
        await Expect(page.Locator("#conn")).ToHaveAttributeAsync("data-state", "reconnecting");
        await using (var meanwhile = MissionHubFactory.WithSqlite(database))
        {
            using var http = new HttpClient { BaseAddress = meanwhile.BaseAddress };
            for (var i = 0; i < 5; i++)
            {
                using var submitted = await http.PostAsJsonAsync("/api/jobs", new { job_type = "offline-type" });
                submitted.EnsureSuccessStatusCode();
                await Task.Delay(300);
            }
        }
        var second = MissionHubFactory.WithSqlite(database, port: port);
        Track(second);
        using var secondHttp = new HttpClient { BaseAddress = second.BaseAddress }; // starts it
        await Expect(page.Locator("#conn")).ToHaveAttributeAsync("data-state", "live", new() { Timeout = 15000 });
        var expected = (await secondHttp.ReadEventsAsync("job_submitted"))
            .GroupBy(e => ((long)Math.Floor(e.GetProperty("timestamp").GetDouble())).ToString(System.Globalization.CultureInfo.InvariantCulture))
            .ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(5, expected.Values.Sum());
        Dictionary<string, int> shown = [];
        await Eventually.TrueAsync(async () =>
        {
            shown = await page.EvaluateAsync<Dictionary<string, int>>("() => window.missionHub.submittedBySecond()");
            return shown.Values.Sum() == 5;
        }, TimeSpan.FromSeconds(5), "the five missed submissions on the chart");
        Assert.Equal(expected.OrderBy(kv => kv.Key), shown.OrderBy(kv => kv.Key));
        // The next redraw (once a second) charts the queue those jobs wait in.
        await Eventually.TrueAsync(async () => (await ChartsAsync(page)).GetProperty("series").GetProperty("depth").EnumerateArray().Any(s => s.GetString() == "offline-type"),
            TimeSpan.FromSeconds(5), "the offline-type queue on the depth chart");
    }

    [Fact]
    public async Task Keyboard_ReachesEveryView_AndNarrowScreensDoNotScrollSideways()
    {
        var server = Server();
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        using (var created = await http.PostAsJsonAsync("/api/missions", new { name = "A mission with a rather long name to wrap on a phone" }))
        {
            created.EnsureSuccessStatusCode();
        }
        using (var submitted = await http.PostAsJsonAsync("/api/jobs", new { job_type = "render-a-very-long-job-type-name" }))
        {
            submitted.EnsureSuccessStatusCode();
        }
        var page = await OpenAsync(server, "#/overview");
        string[] views = ["overview", "missions", "jobs", "queues", "schedules", "agents", "events"];

        // Tab past the skip link to the first view link, then arrow keys along the nav and Enter to open each view.
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.Locator(":focus")).ToHaveClassAsync("skip");
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.Locator(":focus")).ToHaveAttributeAsync("data-view", "overview");
        foreach (var view in views.Skip(1))
        {
            await page.Keyboard.PressAsync("ArrowRight");
            await Expect(page.Locator(":focus")).ToHaveAttributeAsync("data-view", view);
            await page.Keyboard.PressAsync("Enter");
            await Expect(page.Locator($"#view-{view}")).ToBeVisibleAsync();
            await Expect(page.Locator($"nav a[data-view='{view}']")).ToHaveAttributeAsync("aria-current", "page");
        }
        // Alt+1…7 open the views from anywhere.
        for (var i = 0; i < views.Length; i++)
        {
            await page.Keyboard.PressAsync($"Alt+{i + 1}");
            await Expect(page.Locator($"#view-{views[i]}")).ToBeVisibleAsync();
        }

        var narrow = await OpenAsync(server, "#/overview", width: 390);
        await narrow.ClickAsync("#tl-toggle");
        await Expect(narrow.Locator("#timeline")).ToBeVisibleAsync();
        foreach (var view in views)
        {
            await narrow.EvaluateAsync($"() => {{ location.hash = '#/{view}'; }}");
            await Expect(narrow.Locator($"#view-{view}")).ToBeVisibleAsync();
            // Two animation frames: the view's render has run and been laid out.
            await narrow.EvaluateAsync("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))");
            var (scroll, inner) = (await narrow.EvaluateAsync<int>("() => document.documentElement.scrollWidth"), await narrow.EvaluateAsync<int>("() => window.innerWidth"));
            Assert.True(scroll <= inner + 1, $"#/{view} scrolls sideways at 390 px ({scroll} > {inner})");
            await Browser.ScreenshotAsync(narrow, $"console-390px-{view}");
        }

        var (context, large, errors) = await Browser.NewPageAsync(3840, 2160);
        Keep(context, errors);
        await large.GotoAsync(new Uri(server.BaseAddress, "/#/overview").ToString());
        await Expect(large.Locator("#conn")).ToHaveAttributeAsync("data-state", "live");
        await Expect(large.Locator("#lc-jobs .uplot")).ToBeVisibleAsync();
        Assert.True(await large.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), "the 4K page scrolls sideways");
        await Browser.ScreenshotAsync(large, "console-4k-overview");
        foreach (var e in PageErrors)
        {
            Assert.Empty(e);
        }
    }
}
