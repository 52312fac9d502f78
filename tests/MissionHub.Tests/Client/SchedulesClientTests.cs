using System.Net;
using MissionHub.Client;

namespace MissionHub.Tests.Client;

/// <summary><see cref="SchedulesClient"/> against the real <c>/api/schedules</c>, and the delayed-job fields of <see cref="JobsClient"/>.</summary>
public sealed class SchedulesClientTests : ClientTestBase
{
    // Once a year: nothing fires by itself while a test runs.
    private const string Yearly = "0 0 1 1 *";

    private SchedulesClient Schedules => new MissionHubClient(Http).Schedules;

    private static double Now => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    /// <summary>The next 1 January, 00:00 in <paramref name="timeZone"/>, in Unix seconds.</summary>
    private static double NextNewYear(string timeZone)
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById(timeZone);
        var local = TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, zone);
        var newYear = new DateTime(local.Year + 1, 1, 1, 0, 0, 0, DateTimeKind.Unspecified);
        return new DateTimeOffset(newYear, zone.GetUtcOffset(newYear)).ToUnixTimeSeconds();
    }

    private static ScheduleDefinition Nightly(string id, string? timeZone = "Europe/Berlin") => new()
    {
        Id = id,
        Cron = Yearly,
        TimeZone = timeZone,
        Job = new ScheduledJob { JobType = "report", Priority = 3, Payload = Json(new { kind = "yearly" }), MaxAttempts = 2, TimeoutS = 60 },
        Overlap = ScheduleOverlap.Skip,
        CatchUp = ScheduleCatchUp.One,
    };

    [Fact]
    public async Task Create_List_Get_Pause_Resume_Trigger_Delete_RoundTripEveryField()
    {
        var before = Now;
        var created = await Schedules.CreateAsync(Nightly("yearly-report"));

        Assert.Equal("yearly-report", created.Id);
        Assert.Equal(Yearly, created.Cron);
        Assert.Equal("Europe/Berlin", created.TimeZone);
        Assert.Equal("report", created.Job.JobType);
        Assert.Equal(3, created.Job.Priority);
        Assert.Equal(2, created.Job.MaxAttempts);
        Assert.Equal(60, created.Job.TimeoutS);
        Assert.Equal("yearly", created.Job.Payload?.GetProperty("kind").GetString());
        Assert.Equal(ScheduleOverlap.Skip, created.Overlap);
        Assert.Equal(ScheduleCatchUp.One, created.CatchUp);
        Assert.False(created.Paused);
        Assert.InRange(created.CreatedAt, before - 1, Now + 1);
        Assert.Equal(NextNewYear("Europe/Berlin"), created.NextRunAt);
        Assert.Equal(0, created.Fired);
        Assert.Equal(0, created.Skipped);
        Assert.Null(created.LastRun);
        Assert.Null(created.LastSkip);

        // Defaults: UTC, allow, none.
        var plain = await Schedules.CreateAsync(new ScheduleDefinition { Id = "a-plain", Cron = Yearly, Job = new ScheduledJob { JobType = "report" } });
        Assert.Equal("UTC", plain.TimeZone);
        Assert.Equal(ScheduleOverlap.Allow, plain.Overlap);
        Assert.Equal(ScheduleCatchUp.None, plain.CatchUp);
        Assert.Equal(NextNewYear("UTC"), plain.NextRunAt);

        var listed = await Schedules.ListAsync();
        Assert.Equal(["a-plain", "yearly-report"], listed.Schedules.Select(s => s.Id));
        Assert.Null(listed.NextCursor);
        var firstPage = await Schedules.ListAsync(limit: 1);
        Assert.Equal(["a-plain"], firstPage.Schedules.Select(s => s.Id));
        Assert.Equal(["yearly-report"], (await Schedules.ListAsync(limit: 1, cursor: firstPage.NextCursor)).Schedules.Select(s => s.Id));
        var all = new List<string>();
        await foreach (var schedule in Schedules.ListAllAsync(pageSize: 1))
        {
            all.Add(schedule.Id);
        }
        Assert.Equal(["a-plain", "yearly-report"], all);
        var fetched = await Schedules.GetAsync("yearly-report");
        Assert.Equal(created.NextRunAt, fetched.NextRunAt);
        Assert.Equal(created.Job.JobType, fetched.Job.JobType);

        var paused = await Schedules.PauseAsync("yearly-report");
        Assert.True(paused.Paused);
        Assert.Null(paused.NextRunAt);
        Assert.True((await Schedules.GetAsync("yearly-report")).Paused);

        var resumed = await Schedules.ResumeAsync("yearly-report");
        Assert.False(resumed.Paused);
        Assert.Equal(NextNewYear("Europe/Berlin"), resumed.NextRunAt);

        var triggered = await Schedules.TriggerAsync("yearly-report");
        Assert.Equal("yearly-report", triggered.ScheduleId);
        Assert.Equal("yearly-report", triggered.Job.ScheduleId);
        Assert.Equal("report", triggered.Job.JobType);
        Assert.Equal(3, triggered.Job.Priority);
        Assert.Equal(2, triggered.Job.MaxAttempts);
        Assert.Equal("yearly", triggered.Job.Payload.GetProperty("kind").GetString());
        Assert.Equal(JobStatuses.Pending, triggered.Job.Status);
        Assert.Equal("yearly-report", (await Jobs.GetAsync(triggered.Job.Id)).ScheduleId);

        var afterTrigger = await Schedules.GetAsync("yearly-report");
        Assert.Equal(1, afterTrigger.Fired);
        Assert.NotNull(afterTrigger.LastRun);
        Assert.Equal(triggered.Job.Id, afterTrigger.LastRun.JobId);
        Assert.Equal(ScheduleTriggers.Manual, afterTrigger.LastRun.Trigger);
        Assert.False(string.IsNullOrEmpty(afterTrigger.LastRun.NodeId));
        Assert.Equal(JobStatuses.Pending, afterTrigger.LastRun.JobStatus);
        Assert.InRange(afterTrigger.LastRun.FiredAt, before - 1, Now + 1);
        Assert.Equal(NextNewYear("Europe/Berlin"), afterTrigger.NextRunAt); // a trigger is outside the cron

        // The last run's status follows its job.
        await Jobs.CancelAsync(triggered.Job.Id);
        Assert.Equal(JobStatuses.Cancelled, (await Schedules.GetAsync("yearly-report")).LastRun?.JobStatus);

        await Schedules.DeleteAsync("yearly-report");
        var gone = await Assert.ThrowsAsync<MissionHubApiException>(() => Schedules.GetAsync("yearly-report"));
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Equal(["a-plain"], (await Schedules.ListAsync()).Schedules.Select(s => s.Id));
        Assert.Equal(JobStatuses.Cancelled, (await Jobs.GetAsync(triggered.Job.Id)).Status); // its jobs stay
    }

    [Fact]
    public async Task ExistingId_Is409_AndAnInvalidDefinition_Is400NamingTheField()
    {
        await Schedules.CreateAsync(Nightly("twice"));
        var duplicate = await Assert.ThrowsAsync<MissionHubApiException>(() => Schedules.CreateAsync(Nightly("twice")));
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        Assert.False(string.IsNullOrWhiteSpace(duplicate.Detail));
        Assert.Contains("twice", duplicate.Detail, StringComparison.Ordinal);

        var cron = await Assert.ThrowsAsync<MissionHubApiException>(() => Schedules.CreateAsync(Nightly("bad-cron") with { Cron = "every day at noon" }));
        Assert.Equal(HttpStatusCode.BadRequest, cron.StatusCode);
        Assert.Equal("cron", cron.Field);
        Assert.False(string.IsNullOrWhiteSpace(cron.Detail));

        var fields = await Assert.ThrowsAsync<MissionHubApiException>(() => Schedules.CreateAsync(Nightly("bad-cron") with { Cron = "* * *" }));
        Assert.Equal("cron", fields.Field);

        var zone = await Assert.ThrowsAsync<MissionHubApiException>(() => Schedules.CreateAsync(Nightly("bad-zone", timeZone: "Mars/Olympus_Mons")));
        Assert.Equal(HttpStatusCode.BadRequest, zone.StatusCode);
        Assert.Equal("time_zone", zone.Field);

        var overlap = await Assert.ThrowsAsync<MissionHubApiException>(() => Schedules.CreateAsync(Nightly("bad-overlap") with { Overlap = "sometimes" }));
        Assert.Equal("overlap", overlap.Field);

        var catchUp = await Assert.ThrowsAsync<MissionHubApiException>(() => Schedules.CreateAsync(Nightly("bad-catch-up") with { CatchUp = "all" }));
        Assert.Equal("catch_up", catchUp.Field);

        var jobType = await Assert.ThrowsAsync<MissionHubApiException>(() => Schedules.CreateAsync(Nightly("bad-job") with { Job = new ScheduledJob { JobType = "" } }));
        Assert.Equal(HttpStatusCode.BadRequest, jobType.StatusCode);
        Assert.NotNull(jobType.Field);
        Assert.Contains("job_type", jobType.Field, StringComparison.Ordinal);

        // Nothing refused was stored.
        Assert.Equal(["twice"], (await Schedules.ListAsync()).Schedules.Select(s => s.Id));
    }

    [Fact]
    public async Task UnknownSchedule_Is404_ForEveryAction()
    {
        foreach (var call in new Func<Task>[]
        {
            () => Schedules.GetAsync("no-such-schedule"),
            () => Schedules.DeleteAsync("no-such-schedule"),
            () => Schedules.PauseAsync("no-such-schedule"),
            () => Schedules.ResumeAsync("no-such-schedule"),
            () => Schedules.TriggerAsync("no-such-schedule"),
        })
        {
            var refused = await Assert.ThrowsAsync<MissionHubApiException>(call);
            Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        }
    }

    [Fact]
    public async Task Submit_WithDelayS_OrRunAt_AnswersWhenTheJobWillRun()
    {
        var before = Now;
        var delayed = await Jobs.SubmitAsync(new JobSubmission { JobType = "later", DelayS = 120 });
        Assert.Equal(JobStatuses.Pending, delayed.Status);
        Assert.NotNull(delayed.RunAt);
        Assert.InRange(delayed.RunAt.Value, before + 120 - 1, Now + 120 + 1);
        Assert.Equal(delayed.RunAt, delayed.AvailableAt);
        Assert.Null(delayed.ScheduleId);

        var at = Math.Round(Now + 300, 3);
        var planned = await Jobs.SubmitAsync(new JobSubmission { JobType = "later", RunAt = at });
        Assert.Equal(at, planned.RunAt!.Value, 3);
        Assert.Equal(at, planned.AvailableAt!.Value, 3);

        var fetched = await Jobs.GetAsync(delayed.Id);
        Assert.Equal(delayed.RunAt, fetched.RunAt);
        Assert.Equal(delayed.AvailableAt, fetched.AvailableAt);

        var now = await Jobs.SubmitAsync(new JobSubmission { JobType = "later" });
        Assert.Null(now.RunAt);

        var both = await Assert.ThrowsAsync<MissionHubApiException>(() => Jobs.SubmitAsync(new JobSubmission { JobType = "later", RunAt = at, DelayS = 5 }));
        Assert.Equal(HttpStatusCode.BadRequest, both.StatusCode);
        Assert.Equal("delay_s", both.Field);

        var past = await Assert.ThrowsAsync<MissionHubApiException>(() => Jobs.SubmitAsync(new JobSubmission { JobType = "later", RunAt = Now - 3600 }));
        Assert.Equal("run_at", past.Field);
    }
}
