using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using MissionHub.Events;
using MissionHub.Hub;

namespace MissionHub.Schedules;

/// <summary>The schedules' events (source <c>hub</c>, topic <c>schedules</c>), drafted for the step that writes them.</summary>
public static class ScheduleEvents
{
    public const string Created = "schedule_created";
    public const string Fired = "schedule_fired";
    public const string Skipped = "schedule_skipped";
    public const string Paused = "schedule_paused";
    public const string Resumed = "schedule_resumed";
    public const string Deleted = "schedule_deleted";

    public const string TriggerCron = "cron";
    public const string TriggerManual = "manual";

    public const string SkippedOverlap = "overlap";
    public const string SkippedMissed = "missed";

    public static string Target(string scheduleId) => "schedule_" + scheduleId;

    public static CharterEvent CreatedEvent(Schedule schedule, double now, EventMeta meta) =>
        Draft(Created, schedule.Id, now, meta, new ScheduleCreatedPayload(schedule.Id, schedule), ScheduleJsonContext.Default.ScheduleCreatedPayload);

    public static CharterEvent FiredEvent(Schedule after, double now, EventMeta meta) =>
        Draft(Fired, after.Id, now, meta, FiredPayload(after), ScheduleJsonContext.Default.ScheduleFiredPayload);

    public static CharterEvent SkippedEvent(Schedule after, double now, EventMeta meta) =>
        Draft(Skipped, after.Id, now, meta, SkippedPayload(after), ScheduleJsonContext.Default.ScheduleSkippedPayload);

    public static CharterEvent PausedEvent(string id, double now, EventMeta meta) =>
        Draft(Paused, id, now, meta, new SchedulePausedPayload(id), ScheduleJsonContext.Default.SchedulePausedPayload);

    public static CharterEvent ResumedEvent(Schedule after, double now, EventMeta meta) =>
        Draft(Resumed, after.Id, now, meta, new ScheduleResumedPayload(after.Id, after.NextRunAt), ScheduleJsonContext.Default.ScheduleResumedPayload);

    public static CharterEvent DeletedEvent(string id, double now, EventMeta meta) =>
        Draft(Deleted, id, now, meta, new ScheduleDeletedPayload(id), ScheduleJsonContext.Default.ScheduleDeletedPayload);

    public static ScheduleFiredPayload FiredPayload(Schedule after) =>
        new(after.Id, after.LastRun!.JobId, after.LastRun.Tick, after.LastRun.Trigger, after.NextRunAt, after.LastRun.NodeId);

    public static ScheduleSkippedPayload SkippedPayload(Schedule after) =>
        new(after.Id, after.LastSkip!.Tick, after.LastSkip.Reason, after.LastSkip.Missed, after.NextRunAt);

    /// <summary>The schedule after a tick that fired <paramref name="jobId"/>.</summary>
    public static Schedule AfterFired(Schedule current, double tick, double? nextRunAt, string jobId, string trigger, string nodeId, double now) =>
        current with
        {
            NextRunAt = trigger == TriggerCron ? nextRunAt : current.NextRunAt,
            Fired = current.Fired + 1,
            LastRun = new ScheduleRun(tick, now, jobId, trigger, nodeId),
        };

    /// <summary>The schedule after a skipped tick (or <paramref name="missed"/> missed ones).</summary>
    public static Schedule AfterSkipped(Schedule current, double tick, double? nextRunAt, string reason, int missed) =>
        current with
        {
            NextRunAt = nextRunAt,
            Skipped = current.Skipped + Math.Max(1, missed),
            LastSkip = new ScheduleSkip(tick, reason, missed),
        };

    public static string Json(Schedule schedule) => JsonSerializer.Serialize(schedule, ScheduleJsonContext.Default.Schedule);

    private static CharterEvent Draft<T>(string type, string scheduleId, double now, EventMeta meta, T payload, JsonTypeInfo<T> info) =>
        EventDrafts.Create(type, HubEvents.Source, Target(scheduleId), now, meta, payload, info);
}
