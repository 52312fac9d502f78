using System.Buffers;
using System.Text.Json;
using MissionHub.Missions;

namespace MissionHub.Hub;

/// <summary>
/// Writes a job's story into the log of the mission its <c>workflow_id</c> names: its assignment,
/// its progress milestones (each quarter: 25, 50, 75, 100 %), failed attempts and its outcome. Entries go through
/// <see cref="MissionService"/>, so each one is stored and published as <c>mission.log_appended</c> like any other.
/// The hub awaits each entry right after the step it records (an assignment before the worker hears of it), so the log reads in the order of the job's events.
/// A workflow_id that names no mission is ignored.
/// </summary>
public sealed partial class MissionJobJournal(MissionService missions, ILogger<MissionJobJournal> logger)
{
    /// <summary>The milestone reached at <paramref name="progress"/>: 0, 25, 50, 75 or 100.</summary>
    public static int Milestone(double progress) => (int)Math.Floor(Math.Clamp(progress, 0, 1) * 4) * 25;

    public Task AssignedAsync(Job job) =>
        AppendAsync(job, MissionLogLevels.Info, "Job assigned");

    public Task MilestoneAsync(Job job, int percent) =>
        AppendAsync(job, MissionLogLevels.Info, $"Job {percent}% done", progress: job.Progress);

    public Task CompletedAsync(Job job) =>
        AppendAsync(job, MissionLogLevels.Info, "Job completed");

    /// <summary>An attempt failed and the job waits for another (<paramref name="attempt"/> is the failed job as it was).</summary>
    public Task AttemptFailedAsync(Job attempt, string error, double? retryAt) =>
        AppendAsync(attempt, MissionLogLevels.Warning, "Job attempt failed; it will be retried", error: error, retryAt: retryAt);

    public Task FailedAsync(Job job, string error) =>
        AppendAsync(job, MissionLogLevels.Error, "Job failed", error: error);

    public Task CancelledAsync(Job job) =>
        AppendAsync(job, MissionLogLevels.Warning, "Job cancelled");

    private async Task AppendAsync(Job job, string level, string message, double? progress = null, string? error = null, double? retryAt = null)
    {
        if (job.WorkflowId is not { } missionId)
        {
            return;
        }
        var data = Data(job, progress, error, retryAt);
        // The job's state already changed; its log entry is written even if whoever caused it has gone.
        var outcome = await missions.AppendLogAsync(missionId, new LogEntryRequest(level, message, data), CancellationToken.None);
        if (outcome.Error is { } refused)
        {
            if (refused.StatusCode == StatusCodes.Status404NotFound)
            {
                LogNoSuchMission(logger, job.Id, missionId);
            }
            else
            {
                LogRefused(logger, job.Id, missionId, refused.Detail);
            }
        }
    }

    private static JsonElement Data(Job job, double? progress, string? error, double? retryAt)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("job_id", job.Id);
            writer.WriteString("job_type", job.JobType);
            if (job.WorkerId is { } workerId)
            {
                writer.WriteString("worker_id", workerId);
            }
            writer.WriteNumber("attempt", job.Attempts);
            if (progress is { } value)
            {
                writer.WriteNumber("progress", value);
            }
            if (error is not null)
            {
                writer.WriteString("error", error);
            }
            if (retryAt is { } at)
            {
                writer.WriteNumber("retry_at", at);
            }
            writer.WriteEndObject();
        }
        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }

    [LoggerMessage(EventId = 3201, Level = LogLevel.Debug, Message = "Job {JobId} names workflow {WorkflowId}, which is not a mission: nothing logged")]
    private static partial void LogNoSuchMission(ILogger logger, string jobId, string workflowId);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Warning, Message = "Could not log job {JobId} in mission {MissionId}: {Detail}")]
    private static partial void LogRefused(ILogger logger, string jobId, string missionId, string detail);
}
