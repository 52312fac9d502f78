using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MissionHub.Tests.Hub;

namespace MissionHub.Tests.Schedules;

/// <summary>
/// Recurring schedules on each backend, through the REST API and the event log: an every-second schedule fires one job
/// per tick (the job carries its <c>schedule_id</c>, every tick once), pause stops it and resume starts it again from
/// the next tick, trigger fires outside the cron, delete leaves the jobs; <c>overlap: skip</c> skips ticks while the job
/// it fired last is unfinished; bad definitions are 400 naming the field, a taken id 409.
/// </summary>
public abstract class ScheduleTests : HubTestBase
{
    [Fact]
    public async Task EverySecondSchedule_FiresOneJobPerTick_WithItsScheduleId()
    {
        var created = await CreateAsync(new { id = "tick", cron = "* * * * * *", job = new { job_type = "ticked", payload = new { from = "cron" } } });
        Assert.Equal("UTC", created.GetProperty("time_zone").GetString());
        Assert.Equal("allow", created.GetProperty("overlap").GetString());
        var next = created.GetProperty("next_run_at").GetDouble();
        Assert.Equal(Math.Floor(next), next);

        var fired = await WaitForFiredAsync("tick", 3);
        var ticks = fired.Select(e => e.GetProperty("payload").GetProperty("tick").GetDouble()).ToList();
        Assert.Equal(ticks.Distinct().Count(), ticks.Count);
        Assert.All(ticks.Zip(ticks.Skip(1)), pair => Assert.Equal(1.0, pair.Second - pair.First, 3));
        Assert.Equal(next, ticks[0]);

        var jobId = fired[0].GetProperty("payload").GetProperty("job_id").GetString()!;
        var job = await GetJobAsync(jobId);
        Assert.Equal("tick", job.GetProperty("schedule_id").GetString());
        Assert.Equal("cron", job.GetProperty("payload").GetProperty("from").GetString());
        var submitted = (await JobEventsAsync(jobId, "job_submitted")).Single();
        Assert.Equal("tick", submitted.GetProperty("payload").GetProperty("job_data").GetProperty("schedule_id").GetString());

        var schedule = await Client.GetJsonAsync("/api/schedules/tick");
        Assert.True(schedule.GetProperty("fired").GetInt64() >= 3);
        var lastRun = schedule.GetProperty("last_run");
        Assert.Equal("cron", lastRun.GetProperty("trigger").GetString());
        Assert.Equal("pending", lastRun.GetProperty("job_status").GetString());
        Assert.True(schedule.GetProperty("next_run_at").GetDouble() > lastRun.GetProperty("tick").GetDouble());
    }

    [Fact]
    public async Task PauseResumeTriggerDelete_DoWhatTheySay_WithTheirEvents()
    {
        await CreateAsync(new { id = "ops", cron = "* * * * * *", job = new { job_type = "ops" } });
        await WaitForFiredAsync("ops", 1);

        var paused = await PostAsync("/api/schedules/ops/pause", HttpStatusCode.OK);
        Assert.True(paused.GetProperty("paused").GetBoolean());
        Assert.Equal(JsonValueKind.Null, paused.GetProperty("next_run_at").ValueKind);
        Assert.Equal("pending", paused.GetProperty("last_run").GetProperty("job_status").GetString());
        var firedWhenPaused = (await FiredEventsAsync("ops")).Count;
        // Two ticks pass while paused; none fires.
        var pausedAt = DateTimeOffset.UtcNow;
        await Eventually.TrueAsync(() => Task.FromResult(DateTimeOffset.UtcNow - pausedAt > TimeSpan.FromSeconds(2.2)), TimeSpan.FromSeconds(5), "two ticks to pass");
        Assert.Equal(firedWhenPaused, (await FiredEventsAsync("ops")).Count);
        Assert.Single(await Client.ReadEventsAsync("schedule_paused"));
        // Pausing again changes nothing and writes no event.
        await PostAsync("/api/schedules/ops/pause", HttpStatusCode.OK);
        Assert.Single(await Client.ReadEventsAsync("schedule_paused"));

        var triggered = await PostAsync("/api/schedules/ops/trigger", HttpStatusCode.OK);
        var manualJob = triggered.GetProperty("job").GetProperty("id").GetString()!;
        Assert.Equal("ops", triggered.GetProperty("job").GetProperty("schedule_id").GetString());
        var manual = (await FiredEventsAsync("ops")).Last();
        Assert.Equal("manual", manual.GetProperty("payload").GetProperty("trigger").GetString());
        Assert.Equal(manualJob, manual.GetProperty("payload").GetProperty("job_id").GetString());

        var resumed = await PostAsync("/api/schedules/ops/resume", HttpStatusCode.OK);
        Assert.False(resumed.GetProperty("paused").GetBoolean());
        Assert.True(resumed.GetProperty("next_run_at").GetDouble() > DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 1);
        await WaitForFiredAsync("ops", firedWhenPaused + 2);
        Assert.Single(await Client.ReadEventsAsync("schedule_resumed"));

        using var deleted = await Client.DeleteAsync(new Uri("/api/schedules/ops", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using var gone = await Client.GetAsync(new Uri("/api/schedules/ops", UriKind.Relative));
        await gone.AssertProblemAsync(404);
        Assert.Single(await Client.ReadEventsAsync("schedule_deleted"));
        Assert.Equal("pending", (await GetJobAsync(manualJob)).GetProperty("status").GetString());
        using var deleteAgain = await Client.DeleteAsync(new Uri("/api/schedules/ops", UriKind.Relative));
        await deleteAgain.AssertProblemAsync(404);
        using var triggerGone = await Client.PostAsync(new Uri("/api/schedules/ops/trigger", UriKind.Relative), null);
        await triggerGone.AssertProblemAsync(404);
    }

    [Fact]
    public async Task EveryEventOfAScheduledJob_CarriesTheScheduleId()
    {
        // Once a year: only the triggers below fire it.
        await CreateAsync(new { id = "traced", cron = "0 0 1 1 *", job = new { job_type = "traced", max_attempts = 2 } });
        var first = (await PostAsync("/api/schedules/traced/trigger", HttpStatusCode.OK)).GetProperty("job").GetProperty("id").GetString()!;
        await using (var worker = await RawWorker.RegisterAsync(Factory, "w-traced", ["traced"]))
        {
            Assert.Equal(first, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
            await worker.ProgressAsync(first, 0.5);
            await worker.FailAsync(first, "once");
            Assert.Equal(first, (await worker.ReceiveJobAsync(TimeSpan.FromSeconds(10))).GetProperty("id").GetString());
            await worker.CompleteAsync(first, new { ok = true });
            await WaitForStatusAsync(first, "completed");
        }
        // No worker takes this one: cancelled, then retried.
        var second = (await PostAsync("/api/schedules/traced/trigger", HttpStatusCode.OK)).GetProperty("job").GetProperty("id").GetString()!;
        using (var cancel = await CancelAsync(second))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }
        using (var retry = await Client.PostAsync(new Uri($"/api/jobs/{second}/retry", UriKind.Relative), null))
        {
            Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        }

        var events = (await JobEventsAsync(first)).Concat(await JobEventsAsync(second)).ToList();
        Assert.Equal(
            ["job_assigned", "job_completed", "job_progress", "job_status_changed", "job_submitted"],
            events.Select(e => e.GetProperty("type").GetString()).Distinct().Order());
        foreach (var evt in events)
        {
            var payload = evt.GetProperty("payload");
            var scheduleId = evt.GetProperty("type").GetString() == "job_submitted" ? payload.GetProperty("job_data").GetProperty("schedule_id") : payload.GetProperty("schedule_id");
            Assert.True(scheduleId.GetString() == "traced", $"{evt.GetProperty("type")} of job {payload.GetProperty("job_id")} names schedule {scheduleId}");
        }
        var retried = (await JobEventsAsync(second, "job_status_changed")).Last().GetProperty("payload");
        Assert.Equal("traced", retried.GetProperty("job_data").GetProperty("schedule_id").GetString());
        // A job no schedule created names none.
        var plain = await SubmitAsync("traced-not");
        Assert.False((await JobEventsAsync(plain, "job_submitted")).Single().GetProperty("payload").TryGetProperty("schedule_id", out _));
    }

    [Fact]
    public async Task OverlapSkip_SkipsTicksWhileTheLastJobIsUnfinished_AndFiresAgainOnceItCompletes()
    {
        await CreateAsync(new { id = "slow", cron = "* * * * * *", overlap = "skip", job = new { job_type = "slow" } });
        var first = (await WaitForFiredAsync("slow", 1))[0].GetProperty("payload").GetProperty("job_id").GetString()!;
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-slow", ["slow"]);
        Assert.Equal(first, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());

        // The worker holds the job: the next ticks are skipped for overlap, and nothing more is fired.
        await Eventually.TrueAsync(async () => (await Client.ReadEventsAsync("schedule_skipped")).Count >= 2, TimeSpan.FromSeconds(10), "two skipped ticks");
        var skipped = await Client.ReadEventsAsync("schedule_skipped");
        Assert.All(skipped, e => Assert.Equal("overlap", e.GetProperty("payload").GetProperty("reason").GetString()));
        Assert.Single(await FiredEventsAsync("slow"));
        var schedule = await Client.GetJsonAsync("/api/schedules/slow");
        Assert.Equal("overlap", schedule.GetProperty("last_skip").GetProperty("reason").GetString());
        Assert.Equal("assigned", schedule.GetProperty("last_run").GetProperty("job_status").GetString());

        await worker.CompleteAsync(first);
        var second = await worker.ReceiveJobAsync(TimeSpan.FromSeconds(10));
        Assert.NotEqual(first, second.GetProperty("id").GetString());
        Assert.Equal(2, (await FiredEventsAsync("slow")).Count);
    }

    [Fact]
    public async Task ScheduleList_IsOrderedById_AndPages()
    {
        foreach (var id in new[] { "c", "a", "b" })
        {
            await CreateAsync(new { id, cron = "0 3 * * *", time_zone = "Europe/Berlin", job = new { job_type = "nightly" } });
        }
        var first = await Client.GetJsonAsync("/api/schedules?limit=2");
        Assert.Equal(["a", "b"], first.GetProperty("schedules").EnumerateArray().Select(s => s.GetProperty("id").GetString()));
        var cursor = first.GetProperty("next_cursor").GetString();
        var second = await Client.GetJsonAsync($"/api/schedules?limit=2&cursor={cursor}");
        Assert.Equal(["c"], second.GetProperty("schedules").EnumerateArray().Select(s => s.GetProperty("id").GetString()));
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next_cursor").ValueKind);

        // 03:00 in Berlin is 01:00 or 02:00 UTC, whichever offset applies that day.
        var next = DateTimeOffset.FromUnixTimeSeconds((long)first.GetProperty("schedules")[0].GetProperty("next_run_at").GetDouble());
        Assert.Equal(TimeSpan.Zero, next.TimeOfDay - TimeSpan.FromHours(next.TimeOfDay.Hours));
        Assert.Contains(next.Hour, new[] { 1, 2 });
        Assert.Equal(3, (await Client.ReadEventsAsync("schedule_created")).Count);
    }

    public static TheoryData<string, string> BadSchedules => new()
    {
        { """{"cron":"* * * * *","job":{"job_type":"x"}}""", "id" },
        { """{"id":"bad id!","cron":"* * * * *","job":{"job_type":"x"}}""", "id" },
        { """{"id":"s","job":{"job_type":"x"}}""", "cron" },
        { """{"id":"s","cron":"every day","job":{"job_type":"x"}}""", "cron" },
        { """{"id":"s","cron":"61 * * * *","job":{"job_type":"x"}}""", "cron" },
        { """{"id":"s","cron":"* * * * *","time_zone":"Mars/Olympus","job":{"job_type":"x"}}""", "time_zone" },
        { """{"id":"s","cron":"* * * * *","overlap":"sometimes","job":{"job_type":"x"}}""", "overlap" },
        { """{"id":"s","cron":"* * * * *","catch_up":"all","job":{"job_type":"x"}}""", "catch_up" },
        { """{"id":"s","cron":"* * * * *"}""", "job" },
        { """{"id":"s","cron":"* * * * *","job":{"job_type":"bad type!"}}""", "job.job_type" },
        { """{"id":"s","cron":"* * * * *","job":{"job_type":"x","priority":5000}}""", "job.priority" },
        { """{"id":"s","cron":"* * * * *","job":{"job_type":"x","delay_s":5}}""", "job.delay_s" },
        { """{"id":"s","cron":"0 0 30 2 *","job":{"job_type":"x"}}""", "cron" },
    };

    [Theory]
    [MemberData(nameof(BadSchedules))]
    public async Task BadSchedule_Is400NamingTheField_AndStoresNothing(string body, string field)
    {
        using var response = await PostRawAsync("/api/schedules", body);

        await response.AssertProblemAsync(400, field);
        Assert.Empty((await Client.GetJsonAsync("/api/schedules")).GetProperty("schedules").EnumerateArray());
        Assert.Empty(await Client.ReadEventsAsync("schedule_created"));
    }

    [Fact]
    public async Task ScheduleWithATakenId_Is409_AndTheFirstStaysAsItWas()
    {
        await CreateAsync(new { id = "once", cron = "0 3 * * *", job = new { job_type = "first" } });

        using var again = await Client.PostAsJsonAsync("/api/schedules", new { id = "once", cron = "* * * * * *", job = new { job_type = "second" } });

        await again.AssertProblemAsync(409, "id");
        var kept = await Client.GetJsonAsync("/api/schedules/once");
        Assert.Equal("first", kept.GetProperty("job").GetProperty("job_type").GetString());
        Assert.Single(await Client.ReadEventsAsync("schedule_created"));
    }

    [Fact]
    public async Task RacingCreates_StopAtMaxSchedules_Exactly()
    {
        var settings = Settings;
        settings["MissionHub:Schedules:MaxSchedules"] = "5";
        Client.Dispose();
        await Factory.DisposeAsync();
        Factory = CreateFactory(settings);
        Client = Factory.CreateClient();

        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            using var response = await Client.PostAsJsonAsync("/api/schedules", new { id = $"race-{i:00}", cron = "0 0 1 1 *", job = new { job_type = "race" } });
            return response.StatusCode;
        }));

        Assert.Equal(5, answers.Count(a => a == HttpStatusCode.Created));
        Assert.Equal(15, answers.Count(a => a == HttpStatusCode.Conflict));
        Assert.Equal(5, (await Client.GetJsonAsync("/api/schedules")).GetProperty("schedules").GetArrayLength());
        Assert.Equal(5, (await Client.ReadEventsAsync("schedule_created")).Count);
    }

    protected async Task<JsonElement> CreateAsync(object body)
    {
        using var response = await Client.PostAsJsonAsync("/api/schedules", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    protected async Task<JsonElement> PostAsync(string url, HttpStatusCode expected)
    {
        using var response = await Client.PostAsync(new Uri(url, UriKind.Relative), null);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"POST {url}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    protected async Task<List<JsonElement>> FiredEventsAsync(string scheduleId) =>
        [.. (await Client.ReadEventsAsync("schedule_fired")).Where(e => e.PayloadString("schedule_id") == scheduleId)];

    protected async Task<List<JsonElement>> WaitForFiredAsync(string scheduleId, int count)
    {
        List<JsonElement> fired = [];
        await Eventually.TrueAsync(async () => (fired = await FiredEventsAsync(scheduleId)).Count >= count,
            TimeSpan.FromSeconds(count + 10), $"schedule {scheduleId} to fire {count} times");
        return fired;
    }
}

public sealed class SqliteScheduleTests : ScheduleTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("schedules.db"), settings);
}

public sealed class RedisScheduleTests(RedisServerFixture redis) : ScheduleTests, IClassFixture<RedisServerFixture>
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, $"schedules{Guid.NewGuid():N}:", settings);
}
