using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MissionHub.Tests.Dashboard;

/// <summary>
/// The dashboard's Schedules view, the run times of delayed jobs and what dependent jobs wait for, in a real headless
/// Chromium against the real server: schedules created, paused and triggered through the page and through the API show
/// up live.
/// </summary>
public sealed class ScheduleDashboardTests(BrowserFixture browser) : LivePageTests(browser)
{
    // Once a year: nothing fires by itself while the test runs, unless the test asks for it.
    private const string Yearly = "0 0 1 1 *";

    private Task ScreenshotAsync(IPage page, string name) => Browser.ScreenshotAsync(page, name);

    private static async Task<JsonElement> PostAsync(HttpClient http, string path, object? body = null)
    {
        using var response = body is null
            ? await http.PostAsync(new Uri(path, UriKind.Relative), null)
            : await http.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {path} answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static Task<JsonElement> CreateScheduleAsync(HttpClient http, string id, string cron, string jobType, string timeZone = "UTC") =>
        PostAsync(http, "/api/schedules", new { id, cron, time_zone = timeZone, job = new { job_type = jobType, payload = new { } } });

    [Fact]
    public async Task Schedules_ListedLive_PauseResumeAndTriggerFromThePage_AndApiChangesShowWithoutAReload()
    {
        var server = Server();
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        await CreateScheduleAsync(http, "nightly-report", Yearly, "report", "Europe/Berlin");

        var page = await OpenAsync(server, "#/overview");
        await page.ClickAsync("nav a[data-view='schedules']");
        var row = page.Locator("#schedules-body tr[data-id='nightly-report']");
        await Expect(row).ToContainTextAsync(Yearly);
        await Expect(row).ToContainTextAsync("Europe/Berlin");
        await Expect(row).ToContainTextAsync("report");
        await Expect(row).ToHaveAttributeAsync("data-paused", "false");
        await Expect(row.Locator("[data-field='state'] .badge")).ToHaveTextAsync("active");
        await Expect(row.Locator("[data-field='next'] time")).ToBeVisibleAsync();
        await Expect(row.Locator("[data-field='last-run']")).ToHaveTextAsync("never");
        await Expect(row.Locator("[data-count='fired']")).ToHaveTextAsync("0");
        await Expect(row.Locator("[data-count='skipped']")).ToHaveTextAsync("0");

        // Pause from the page: the row says so, and so does the API.
        await row.Locator("button[data-action='pause']").ClickAsync();
        await Expect(row).ToHaveAttributeAsync("data-paused", "true");
        await Expect(row.Locator("[data-field='state'] .badge")).ToHaveTextAsync("paused");
        await Expect(row.Locator("[data-field='next']")).ToHaveTextAsync("paused");
        await Expect(row.Locator("button[data-action='resume']")).ToBeVisibleAsync();
        var paused = await http.GetJsonAsync("/api/schedules/nightly-report");
        Assert.True(paused.GetProperty("paused").GetBoolean());
        Assert.Equal(JsonValueKind.Null, paused.GetProperty("next_run_at").ValueKind);

        await row.Locator("button[data-action='resume']").ClickAsync();
        await Expect(row).ToHaveAttributeAsync("data-paused", "false");
        await Expect(row.Locator("[data-field='next'] time")).ToBeVisibleAsync();
        Assert.False((await http.GetJsonAsync("/api/schedules/nightly-report")).GetProperty("paused").GetBoolean());

        // Trigger from the page: the last run shows its job, and its status follows the job live.
        await row.Locator("button[data-action='trigger']").ClickAsync();
        await Expect(row.Locator("[data-count='fired']")).ToHaveTextAsync("1");
        var lastRun = (await http.GetJsonAsync("/api/schedules/nightly-report")).GetProperty("last_run");
        var jobId = lastRun.GetProperty("job_id").GetString()!;
        Assert.Equal("manual", lastRun.GetProperty("trigger").GetString());
        await Expect(row.Locator("[data-field='last-job']")).ToHaveTextAsync(jobId);
        await Expect(row.Locator("[data-field='last-run']")).ToContainTextAsync("manual");
        await Expect(row.Locator("[data-field='last-run'] .badge")).ToHaveTextAsync("pending");
        await using (var worker = await RawWorker.RegisterAsync(server, "w-report", ["report"]))
        {
            var job = await worker.ReceiveJobAsync();
            Assert.Equal(jobId, job.GetProperty("id").GetString());
            await Expect(row.Locator("[data-field='last-run'] .badge")).ToHaveTextAsync("assigned");
            await worker.CompleteAsync(jobId, new { rows = 3 });
            await Expect(row.Locator("[data-field='last-run'] .badge")).ToHaveTextAsync("completed");
        }
        await ScreenshotAsync(page, "schedules");

        // Made elsewhere, through the API: a new schedule, its cron fires, its pause, a trigger and a delete show up live.
        await CreateScheduleAsync(http, "every-second", "* * * * * *", "tick");
        var ticking = page.Locator("#schedules-body tr[data-id='every-second']");
        await Expect(ticking).ToContainTextAsync("* * * * * *");
        await Expect(ticking.Locator("[data-field='last-run']")).ToContainTextAsync("cron", new() { Timeout = 10000 });
        await Eventually.TrueAsync(async () => int.Parse(await ticking.Locator("[data-count='fired']").TextContentAsync() ?? "0") >= 2,
            TimeSpan.FromSeconds(10), "the every-second schedule to have fired twice on the page");
        await PostAsync(http, "/api/schedules/every-second/pause");
        await Expect(ticking).ToHaveAttributeAsync("data-paused", "true");
        var firedWhenPaused = (await http.GetJsonAsync("/api/schedules/every-second")).GetProperty("fired").GetInt64();
        await Expect(ticking.Locator("[data-count='fired']")).ToHaveTextAsync(firedWhenPaused.ToString(System.Globalization.CultureInfo.InvariantCulture));

        var triggered = await PostAsync(http, "/api/schedules/nightly-report/trigger");
        var secondJob = triggered.GetProperty("job").GetProperty("id").GetString()!;
        await Expect(row.Locator("[data-field='last-job']")).ToHaveTextAsync(secondJob);
        await Expect(row.Locator("[data-count='fired']")).ToHaveTextAsync("2");

        using (var deleted = await http.DeleteAsync(new Uri("/api/schedules/every-second", UriKind.Relative)))
        {
            Assert.Equal(System.Net.HttpStatusCode.NoContent, deleted.StatusCode);
        }
        await Expect(ticking).ToHaveCountAsync(0);
        await Expect(row).ToHaveCountAsync(1);

        // A refusal is shown as the server words it, and the row stays as it was.
        await page.RouteAsync("**/api/schedules/nightly-report/pause", route => route.FulfillAsync(new()
        {
            Status = 403,
            ContentType = "application/problem+json",
            Body = """{"title":"Forbidden","status":403,"detail":"this needs the 'operator' role; this credential has the role(s) viewer","required_role":"operator"}""",
        }));
        await row.Locator("button[data-action='pause']").ClickAsync();
        await Expect(page.Locator("#schedule-action-error")).ToContainTextAsync("Pause nightly-report: this needs the 'operator' role");
        await Expect(page.Locator("#schedule-action-error")).ToContainTextAsync("HTTP 403");
        await Expect(row).ToHaveAttributeAsync("data-paused", "false");
        await Expect(page.Locator("#schedules-live")).ToBeHiddenAsync();
        Assert.All(PageErrors, Assert.Empty);
    }

    [Fact]
    public async Task DelayedJobs_ShowWhenTheyWillRun_FromTheSnapshotAndLive()
    {
        var server = Server();
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        var before = (await PostAsync(http, "/api/jobs", new { job_type = "later", delay_s = 600 })).GetProperty("id").GetString()!;
        var now = (await PostAsync(http, "/api/jobs", new { job_type = "later" })).GetProperty("id").GetString()!;

        var page = await OpenAsync(server, "#/jobs");
        var early = page.Locator($"#jobs-pending li[data-id='{before}']");
        await Expect(early).ToHaveAttributeAsync("data-waiting", "true");
        await Expect(early.Locator(".runs-at")).ToContainTextAsync("runs at");
        await Expect(early.Locator(".runs-at .in")).ToHaveTextAsync(new Regex(@"^in (9|10) min$"));
        var ready = page.Locator($"#jobs-pending li[data-id='{now}']");
        await Expect(ready).ToHaveAttributeAsync("data-waiting", "false");
        await Expect(ready.Locator(".runs-at")).ToHaveCountAsync(0);

        // Submitted while the page watches: its run time comes with job_submitted, and counts down.
        var live = (await PostAsync(http, "/api/jobs", new { job_type = "later", delay_s = 45 })).GetProperty("id").GetString()!;
        var soon = page.Locator($"#jobs-pending li[data-id='{live}']");
        await Expect(soon).ToHaveAttributeAsync("data-waiting", "true");
        var countdown = soon.Locator(".runs-at .in");
        await Expect(countdown).ToHaveTextAsync(new Regex(@"^in \d+ s$"));
        var first = await countdown.TextContentAsync();
        await Expect(countdown).Not.ToHaveTextAsync(first!, new() { Timeout = 5000 });
        var runAt = (await http.GetJsonAsync($"/api/jobs/{live}")).GetProperty("run_at").GetDouble();
        var shown = await soon.Locator(".runs-at time").GetAttributeAsync("data-until");
        Assert.Equal(runAt * 1000, double.Parse(shown!, System.Globalization.CultureInfo.InvariantCulture), tolerance: 1);
        await ScreenshotAsync(page, "jobs-delayed");
        Assert.All(PageErrors, Assert.Empty);
    }

    [Fact]
    public async Task DependentJobs_ShowHowManyJobsTheyWaitFor_FromTheSnapshotAndLive_AndADependencyFailure()
    {
        var server = Server();
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        var first = (await PostAsync(http, "/api/jobs", new { job_type = "first" })).GetProperty("id").GetString()!;
        var second = (await PostAsync(http, "/api/jobs", new { job_type = "then", depends_on = new[] { first } })).GetProperty("id").GetString()!;

        var page = await OpenAsync(server, "#/jobs");
        var secondRow = page.Locator($"#jobs-pending li[data-id='{second}']");
        await Expect(secondRow.Locator(".waits-for")).ToHaveTextAsync("waits for 1 job");
        await Expect(page.Locator($"#jobs-pending li[data-id='{first}'] .waits-for")).ToHaveCountAsync(0);

        var third = (await PostAsync(http, "/api/jobs", new { job_type = "then", depends_on = new[] { first, second } })).GetProperty("id").GetString()!;
        var thirdRow = page.Locator($"#jobs-pending li[data-id='{third}']");
        await Expect(thirdRow.Locator(".waits-for")).ToHaveTextAsync("waits for 2 jobs");

        await using (var worker = await RawWorker.RegisterAsync(server, "w-first", ["first"]))
        {
            Assert.Equal(first, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
            await worker.CompleteAsync(first);
            await Expect(secondRow.Locator(".waits-for")).ToHaveCountAsync(0);
            await Expect(thirdRow.Locator(".waits-for")).ToHaveTextAsync("waits for 1 job");
        }
        await ScreenshotAsync(page, "jobs-dependencies");

        await PostAsync(http, $"/api/jobs/{second}/cancel");
        var failedRow = page.Locator($"#jobs-failed li[data-id='{third}']");
        await Expect(failedRow).ToContainTextAsync("a job it depends on failed");
        Assert.All(PageErrors, Assert.Empty);
    }
}
