using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MissionHub.Tests.Dashboard;

/// <summary>
/// The console's time travel and "follow one action" in a real Chromium against the real server: the page scrubbed to
/// a seq shows what <c>GET /api/state?at_seq</c> says and what a recount of <c>/api/events</c> up to that seq says, and a
/// chain lists one correlation id's events in order.
/// </summary>
public sealed class ConsoleHistoryTests(BrowserFixture browser) : LivePageTests(browser)
{

    private static async Task<string> PostAsync(HttpClient http, string path, object body, string? correlationId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        if (correlationId is not null)
        {
            request.Headers.Add("X-Correlation-ID", correlationId);
        }
        using var response = await http.SendAsync(request);
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.IsSuccessStatusCode, $"{path}: {answer}");
        return answer.TryGetProperty("id", out var id) ? id.GetString()! : "";
    }

    [Fact]
    public async Task TimeTravel_ScrubbedToFiveSeqs_ShowsWhatTheStateEndpointAndARecountOfTheLogSay()
    {
        var server = Server();
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        await using var worker = await RawWorker.RegisterAsync(server.BaseAddress, "w-tt", ["render"]);
        worker.StartHeartbeats(TimeSpan.FromSeconds(2));
        var m1 = await PostAsync(http, "/api/missions", new { name = "Survey north" });
        var m2 = await PostAsync(http, "/api/missions", new { name = "Survey south" });
        await PostAsync(http, $"/api/missions/{m1}/status", new { status = "RUNNING" });
        var j1 = await PostAsync(http, "/api/jobs", new { job_type = "render", priority = 2, workflow_id = m1 });
        await worker.ReceiveJobAsync();
        await worker.ProgressAsync(j1, 0.5);
        await worker.CompleteAsync(j1, new { ok = true });
        var j2 = await PostAsync(http, "/api/jobs", new { job_type = "render", max_attempts = 1 });
        await worker.ReceiveJobAsync();
        await worker.ProgressAsync(j2, 0.2);
        await worker.FailAsync(j2, "lens cap on");
        var j3 = await PostAsync(http, "/api/jobs", new { job_type = "transcode", priority = 5 });
        await PostAsync(http, $"/api/jobs/{j3}/cancel", new { });
        await PostAsync(http, "/api/jobs", new { job_type = "transcode" });
        await PostAsync(http, $"/api/missions/{m2}/status", new { status = "CANCELLED" });
        var j5 = await PostAsync(http, "/api/jobs", new { job_type = "render" });
        await worker.ReceiveJobAsync();
        await worker.ProgressAsync(j5, 0.7);
        await http.WaitForEventsAsync("job_progress", e => e.PayloadString("job_id") == j5, 1);

        var events = await http.ReadEventsAsync();
        var seqs = events.Select(e => e.GetProperty("seq").GetInt64()).ToList();
        // Five moments: a running mission with no job yet, a job mid-run, just after a failure, after the cancel, the end.
        long SeqOf(string type, string? jobId = null) => events.FirstOrDefault(e => e.GetProperty("type").GetString() == type
            && (jobId is null || e.PayloadString("job_id") == jobId)) is { ValueKind: JsonValueKind.Object } found
                ? found.GetProperty("seq").GetInt64()
                : throw new InvalidOperationException($"no {type} {jobId} in: {string.Join(", ", events.Select(e => $"{e.GetProperty("type").GetString()}:{e.PayloadString("job_id")}"))}");
        long[] chosen = [SeqOf("mission.status_changed"), SeqOf("job_progress", j1), SeqOf("job_failed", j2),
            SeqOf("job_status_changed", j3), seqs[^2]];

        var page = await OpenAsync(server, "#/overview");
        await page.ClickAsync("#tl-toggle");
        await Expect(page.Locator("#timeline")).ToBeVisibleAsync();
        foreach (var seq in chosen)
        {
            await page.FillAsync("#tl-seq", seq.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await page.PressAsync("#tl-seq", "Enter");
            await Expect(page.Locator("body")).ToHaveAttributeAsync("data-history-seq", seq.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await Expect(page.Locator("#history-banner")).ToContainTextAsync($"seq {seq}");

            var state = await http.GetJsonAsync($"/api/state?at_seq={seq}");
            Assert.Equal(seq, state.GetProperty("seq").GetInt64());
            var recount = Recount.Of(events.TakeWhile(e => e.GetProperty("seq").GetInt64() <= seq));

            var stateCounts = Statuses.JobStatuses.ToDictionary(s => s, s => state.GetProperty("counts").GetProperty(s).GetInt32());
            Assert.Equal(recount.Counts, stateCounts);
            await page.ClickAsync("nav a[data-view='overview']");
            await ExpectEqualAsync(page, "counts", stateCounts,
                "() => Object.fromEntries([...document.querySelectorAll('#job-counts [data-jcount]')].map(e => [e.dataset.jcount, Number(e.textContent)]))");

            var stateJobs = new Dictionary<string, string>();
            foreach (var lane in state.GetProperty("jobs").EnumerateObject())
            {
                foreach (var job in lane.Value.EnumerateArray())
                {
                    stateJobs[job.GetProperty("id").GetString()!] = job.GetProperty("status").GetString()!;
                }
            }
            Assert.Equal(recount.Jobs, stateJobs);
            await page.ClickAsync("nav a[data-view='jobs']");
            await ExpectEqualAsync(page, "jobs", stateJobs,
                "() => Object.fromEntries([...document.querySelectorAll('#view-jobs li.job[data-id]')].map(e => [e.dataset.id, e.dataset.status]))");

            var stateWorkers = state.GetProperty("workers").EnumerateObject().ToDictionary(w => w.Name, w => w.Value.GetProperty("status").GetString()!);
            Assert.Equal(recount.Workers, stateWorkers);
            await page.ClickAsync("nav a[data-view='agents']");
            await ExpectEqualAsync(page, "workers", stateWorkers,
                "() => Object.fromEntries([...document.querySelectorAll('#workers-body tr[data-id]')].map(e => [e.dataset.id, e.dataset.status]))");

            var stateMissions = state.GetProperty("missions").EnumerateArray().ToDictionary(m => m.GetProperty("id").GetString()!, m => m.GetProperty("status").GetString()!);
            Assert.Equal(recount.Missions, stateMissions);
            await page.ClickAsync("nav a[data-view='missions']");
            await ExpectEqualAsync(page, "missions", stateMissions,
                "() => Object.fromEntries([...document.querySelectorAll('#missions-body tr[data-id]')].map(e => [e.dataset.id, e.dataset.status]))");
            // Nothing that would change the hub can be used from the past.
            await Expect(page.Locator("#mission-create button[type='submit']")).ToBeDisabledAsync();
        }
        await page.ClickAsync("nav a[data-view='jobs']");
        await Browser.ScreenshotAsync(page, "history-jobs");

        // One event forward from the fourth seq applies exactly the next event; one back returns.
        await page.FillAsync("#tl-seq", chosen[3].ToString(System.Globalization.CultureInfo.InvariantCulture));
        await page.PressAsync("#tl-seq", "Enter");
        await Expect(page.Locator("body")).ToHaveAttributeAsync("data-history-seq", chosen[3].ToString(System.Globalization.CultureInfo.InvariantCulture));
        await page.ClickAsync("#tl-fwd");
        var next = seqs.First(s => s > chosen[3]);
        await Expect(page.Locator("body")).ToHaveAttributeAsync("data-history-seq", next.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await page.ClickAsync("#tl-back");
        await Expect(page.Locator("body")).ToHaveAttributeAsync("data-history-seq", chosen[3].ToString(System.Globalization.CultureInfo.InvariantCulture));

        // By time: the second of the failure shows the hub after the last event of that second, as GET /api/state?at_time says.
        var failedAt = Math.Floor(events.First(e => e.GetProperty("seq").GetInt64() == chosen[2]).GetProperty("timestamp").GetDouble());
        // As the input holds it: Chromium drops ":00" seconds, and Playwright refuses a value the input would not keep.
        var local = await page.EvaluateAsync<string>("s => { const d = new Date(s * 1000); const two = (n) => String(n).padStart(2, '0'); "
            + "return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}${d.getSeconds() ? ':' + two(d.getSeconds()) : ''}`; }", failedAt);
        var atTime = (await http.GetJsonAsync($"/api/state?at_time={failedAt.ToString(System.Globalization.CultureInfo.InvariantCulture)}")).GetProperty("seq").GetInt64();
        await page.FillAsync("#tl-time", local);
        await page.ClickAsync("#tl-time-form button[type='submit']");
        await Expect(page.Locator("body")).ToHaveAttributeAsync("data-history-seq", atTime.ToString(System.Globalization.CultureInfo.InvariantCulture));

        // Playing at 100× runs on to the live end, and the page is live again, with the live job shown.
        await page.SelectOptionAsync("#tl-speed", "100");
        await page.ClickAsync("#tl-play");
        await Expect(page.Locator("#history-banner")).ToBeHiddenAsync(new() { Timeout = 15000 });
        await Expect(page.Locator("body")).Not.ToHaveAttributeAsync("data-history-seq", new System.Text.RegularExpressions.Regex(".+"));
        await Expect(page.Locator($"#jobs-active li[data-id='{j5}']")).ToHaveAttributeAsync("data-status", "running");
        await Expect(page.Locator("#mission-create button[type='submit']")).ToBeEnabledAsync();
        foreach (var errors in PageErrors)
        {
            Assert.Empty(errors);
        }
    }

    /// <summary>Waits for the page's view of <paramref name="what"/> to equal <paramref name="expected"/>, then asserts it.</summary>
    private static async Task ExpectEqualAsync<T>(IPage page, string what, Dictionary<string, T> expected, string script)
    {
        Dictionary<string, T> shown = [];
        try
        {
            await Eventually.TrueAsync(async () =>
            {
                shown = await page.EvaluateAsync<Dictionary<string, T>>(script);
                return shown.Count == expected.Count && expected.All(kv => shown.TryGetValue(kv.Key, out var v) && Equals(v, kv.Value));
            }, TimeSpan.FromSeconds(5), what);
        }
        catch (TimeoutException)
        {
        }
        Assert.Equal(expected.OrderBy(kv => kv.Key, StringComparer.Ordinal), shown.OrderBy(kv => kv.Key, StringComparer.Ordinal));
    }

    [Fact]
    public async Task Follow_OneCorrelationId_ListsTheMissionChangeAndTheJobItTriggered_InOrder()
    {
        var server = Server();
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        await using var worker = await RawWorker.RegisterAsync(server.BaseAddress, "w-follow", ["survey"]);
        var mission = await PostAsync(http, "/api/missions", new { name = "Inspect the dam" });
        var page = await OpenAsync(server, "#/jobs");
        var correlation = $"follow-{Guid.NewGuid():N}";
        await PostAsync(http, $"/api/missions/{mission}/status", new { status = "RUNNING" }, correlation);
        var job = await PostAsync(http, "/api/jobs", new { job_type = "survey", workflow_id = mission }, correlation);
        await worker.ReceiveJobAsync();
        await worker.ProgressAsync(job, 0.5);
        await worker.CompleteAsync(job, new { photos = 12 });
        await http.WaitForEventsAsync("job_completed", e => e.PayloadString("job_id") == job, 1);

        await page.ClickAsync($"#jobs-completed li[data-id='{job}'] button[data-follow-job]");
        var dialog = page.Locator("#chain");
        await Expect(dialog).ToBeVisibleAsync();
        await Expect(page.Locator("#chain-title")).ToContainTextAsync(correlation);
        string[] expected = ["mission.status_changed", "job_submitted", "job_assigned", "job_progress", "job_completed"];
        // The job's completion, and the mission log line it writes, are in the chain too.
        try
        {
            await Expect(page.Locator("#chain-list li[data-type='job_completed']")).ToHaveCountAsync(1);
        }
        catch (PlaywrightException)
        {
            var events = await http.ReadEventsAsync();
            Assert.Fail($"the chain from the job: {await page.EvaluateAsync<JsonElement>("() => window.missionHub.chain()")}\nlog: {string.Join("\n", events.Select(e => $"{e.GetProperty("seq")} {e.GetProperty("type")} {e.GetProperty("meta")}"))}");
        }
        var shown = (await page.EvaluateAsync<JsonElement>("() => window.missionHub.chain()")).EnumerateArray()
            .Select(s => new ChainStep(s.GetProperty("seq").GetInt64(), s.GetProperty("type").GetString()!)).ToList();
        Assert.Equal(shown.OrderBy(s => s.Seq).Select(s => s.Seq), shown.Select(s => s.Seq));
        var types = shown.Select(s => s.Type).ToList();
        var at = -1;
        foreach (var type in expected)
        {
            var next = types.FindIndex(at + 1, t => t == type);
            Assert.True(next > at, $"{type} after step {at} in [{string.Join(", ", types)}]");
            at = next;
        }
        await Expect(page.Locator("#chain-list li[data-seq] .since").Nth(1)).ToContainTextAsync("+");
        await Browser.ScreenshotAsync(page, "chain");

        // The same chain from an event of the log: the mission change itself.
        await page.PressAsync("#chain", "Escape");
        await page.ClickAsync("nav a[data-view='events']");
        await page.ClickAsync("#events button.ev:has(.etype:text-is('mission.status_changed'))");
        await page.ClickAsync("#event-detail button[data-follow-seq]");
        await Expect(page.Locator("#chain-list li[data-seq]").First).ToHaveAttributeAsync("data-type", "mission.status_changed");
        try
        {
            await Expect(page.Locator("#chain-list li[data-type='job_completed']")).ToHaveCountAsync(1);
        }
        catch (PlaywrightException)
        {
            var events = await http.ReadEventsAsync();
            Assert.Fail($"the chain from the mission change: {await page.EvaluateAsync<JsonElement>("() => window.missionHub.chain()")}\nlog: {string.Join("\n", events.Select(e => $"{e.GetProperty("seq")} {e.GetProperty("type")} {e.GetProperty("meta")}"))}");
        }
        foreach (var errors in PageErrors)
        {
            Assert.Empty(errors);
        }
    }

    private sealed record ChainStep(long Seq, string Type);

    /// <summary>An independent recount of job, worker and mission statuses from the log's envelopes.</summary>
    private sealed record Recount(Dictionary<string, int> Counts, Dictionary<string, string> Jobs, Dictionary<string, string> Workers, Dictionary<string, string> Missions)
    {
        public static Recount Of(IEnumerable<JsonElement> events)
        {
            var jobs = new Dictionary<string, string>();
            var workers = new Dictionary<string, string>();
            var missions = new Dictionary<string, string>();
            foreach (var e in events)
            {
                var type = e.GetProperty("type").GetString()!;
                var p = e.GetProperty("payload");
                string? Get(string name) => p.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                switch (type)
                {
                    case "job_submitted": jobs[Get("job_id")!] = "pending"; break;
                    case "job_assigned": jobs[Get("job_id")!] = "assigned"; break;
                    case "job_status_changed": jobs[Get("job_id")!] = Get("new_status")!; break;
                    case "job_completed": jobs[Get("job_id")!] = "completed"; break;
                    case "job_failed": jobs[Get("job_id")!] = "failed"; break;
                    case "worker_connected": workers[Get("worker_id")!] = p.GetProperty("worker_data").GetProperty("status").GetString()!; break;
                    case "worker_status_changed": workers[Get("worker_id")!] = Get("new_status")!; break;
                    case "worker_disconnected": workers[Get("worker_id")!] = "offline"; break;
                    case "mission.created": missions[Get("mission_id")!] = Get("status") ?? "PENDING"; break;
                    case "mission.status_changed": missions[Get("mission_id")!] = Get("new_status")!; break;
                }
            }
            var counts = Statuses.JobStatuses.ToDictionary(s => s, s => jobs.Values.Count(v => v == s));
            return new(counts, jobs, workers, missions);
        }
    }

    private static class Statuses
    {
        public static readonly string[] JobStatuses = ["pending", "assigned", "running", "completed", "failed", "cancelled"];
    }
}
