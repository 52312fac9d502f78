using System.Text.Json;
using System.Text.Json.Serialization;

namespace MissionHub.Client;

/// <summary>Mission status values (UPPERCASE on the wire).</summary>
public static class MissionStatuses
{
    /// <summary>Created, not started.</summary>
    public const string Pending = "PENDING";

    /// <summary>Under way.</summary>
    public const string Running = "RUNNING";

    /// <summary>Finished successfully (final).</summary>
    public const string Completed = "COMPLETED";

    /// <summary>Finished unsuccessfully (final).</summary>
    public const string Failed = "FAILED";

    /// <summary>Stopped before it finished (final).</summary>
    public const string Cancelled = "CANCELLED";

    /// <summary>Every status, in lifecycle order.</summary>
    public static readonly IReadOnlyList<string> All = [Pending, Running, Completed, Failed, Cancelled];
}

/// <summary>The body of <c>POST /api/missions</c>.</summary>
/// <param name="Name">What the mission is called (required).</param>
/// <param name="Description">Optional free text.</param>
/// <param name="Id">An id of your own; a duplicate is a 409. Default: a new UUID.</param>
/// <param name="Data">Any JSON object kept with the mission.</param>
public sealed record NewMission(string Name, string? Description = null, string? Id = null, JsonElement? Data = null);

/// <summary>A mission. Times are Unix seconds.</summary>
/// <param name="Id">The mission's id.</param>
/// <param name="Name">Its name.</param>
/// <param name="Description">Its description, if any.</param>
/// <param name="Data">The JSON object given at creation.</param>
/// <param name="Status">One of <see cref="MissionStatuses"/>.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="UpdatedAt">When its status last changed.</param>
public sealed record Mission(string Id, string Name, string? Description, JsonElement Data, string Status, double CreatedAt, double UpdatedAt);

/// <summary>A page of <c>GET /api/missions</c>, newest first.</summary>
/// <param name="Missions">The missions of this page.</param>
/// <param name="NextCursor">Pass back as <c>cursor</c> for the next page; null at the end.</param>
public sealed record MissionPage(IReadOnlyList<Mission> Missions, string? NextCursor);

/// <summary>One line of a mission's log.</summary>
/// <param name="Timestamp">When (Unix seconds).</param>
/// <param name="Level">debug, info, warning or error.</param>
/// <param name="Message">The text.</param>
/// <param name="Data">Optional JSON data.</param>
public sealed record MissionLogEntry(double Timestamp, string Level, string Message, JsonElement? Data);

/// <summary>A page of <c>GET /api/missions/{id}/log</c>, oldest first.</summary>
/// <param name="MissionId">The mission.</param>
/// <param name="Entries">The entries of this page.</param>
/// <param name="NextCursor">Pass back as <c>cursor</c>; null at the end.</param>
public sealed record MissionLogPage(string MissionId, IReadOnlyList<MissionLogEntry> Entries, string? NextCursor);

/// <summary><c>GET /api/missions/stats</c>.</summary>
/// <param name="Total">Missions stored.</param>
/// <param name="ByStatus">Count per status; the five sum to <paramref name="Total"/>.</param>
/// <param name="LastUpdated">When the counters last changed (Unix seconds).</param>
public sealed record MissionStats(long Total, IReadOnlyDictionary<string, long> ByStatus, double? LastUpdated);

internal sealed record StatusChange(string Status);

internal sealed record LogEntryBody(string Level, string Message, JsonElement? Data);

/// <summary>One component's health.</summary>
/// <param name="Name">The check.</param>
/// <param name="State">ok, degraded or error.</param>
/// <param name="LatencyMs">How long the check took.</param>
/// <param name="Detail">What it found.</param>
public sealed record HealthCheck(string Name, string State, double LatencyMs, string Detail);

/// <summary><c>GET /api/supervisor/health</c> (also when it answers 503).</summary>
/// <param name="Status">ok, degraded or error: the worst check.</param>
/// <param name="Timestamp">When it was checked.</param>
/// <param name="Checks">Every check by name.</param>
public sealed record SupervisorHealth(string Status, DateTime Timestamp, IReadOnlyDictionary<string, HealthCheck> Checks);

/// <summary>What an agent can do.</summary>
/// <param name="JobTypes">Job types a worker takes (empty for robots).</param>
/// <param name="MaxConcurrentJobs">A worker's slots.</param>
public sealed record AgentCapabilities(IReadOnlyList<string> JobTypes, int? MaxConcurrentJobs);

/// <summary>A worker or robot as the supervisor lists it. Times are Unix seconds.</summary>
/// <param name="Id">Its id.</param>
/// <param name="Kind">worker or robot.</param>
/// <param name="State">idle, busy, online, offline or connection_broken.</param>
/// <param name="Capabilities">What it can do.</param>
/// <param name="ConnectedAt">When it connected, if connected.</param>
/// <param name="LastSeen">When it was last heard from.</param>
/// <param name="CurrentJobs">Jobs a worker holds.</param>
/// <param name="Telemetry">A robot's latest telemetry.</param>
/// <param name="DisconnectReason">Why it went away, if it did.</param>
public sealed record Agent(
    string Id, string Kind, string State, AgentCapabilities Capabilities, double? ConnectedAt, double LastSeen,
    IReadOnlyList<string> CurrentJobs, JsonElement? Telemetry, string? DisconnectReason);

/// <summary><c>GET /api/supervisor/status</c>.</summary>
/// <param name="Status">The overall state.</param>
/// <param name="Timestamp">When.</param>
/// <param name="TotalMissions">Missions stored.</param>
/// <param name="RunningMissions">RUNNING missions.</param>
/// <param name="PendingMissions">PENDING missions.</param>
/// <param name="CompletedMissions">COMPLETED missions.</param>
/// <param name="FailedMissions">FAILED missions.</param>
/// <param name="CancelledMissions">CANCELLED missions.</param>
/// <param name="Agents">Every agent.</param>
public sealed record SupervisorStatus(
    string Status, DateTime Timestamp, long TotalMissions, long RunningMissions, long PendingMissions, long CompletedMissions,
    long FailedMissions, long CancelledMissions, IReadOnlyList<Agent> Agents);

/// <summary>The four spec metrics of a robot; null when never sent.</summary>
/// <param name="CpuUsage">Percent.</param>
/// <param name="MemoryUsage">Percent.</param>
/// <param name="NetworkLatencyMs">Milliseconds.</param>
/// <param name="BatteryPercentage">Percent.</param>
public sealed record RobotMetrics(double? CpuUsage, double? MemoryUsage, double? NetworkLatencyMs, double? BatteryPercentage);

/// <summary>A robot in <c>GET /api/telemetry/robots</c>.</summary>
/// <param name="RobotId">Its id.</param>
/// <param name="State">online, offline or connection_broken.</param>
/// <param name="Connected">Whether its socket is open.</param>
/// <param name="ConnectionId">The current connection.</param>
/// <param name="ConnectedAt">When it connected.</param>
/// <param name="LastSeen">When it was last heard from.</param>
/// <param name="DisconnectReason">Why it went away.</param>
/// <param name="Metrics">Its latest metrics.</param>
/// <param name="Extra">Its other numeric fields.</param>
/// <param name="ActiveAlerts">Alerts raised and not cleared.</param>
public sealed record RobotSummary(
    string RobotId, string State, bool Connected, string? ConnectionId, double? ConnectedAt, double? LastSeen, string? DisconnectReason,
    RobotMetrics Metrics, IReadOnlyDictionary<string, double> Extra, IReadOnlyList<string> ActiveAlerts);

/// <summary><c>GET /api/telemetry/robots</c>.</summary>
/// <param name="Robots">Every robot connected or heard from recently.</param>
/// <param name="Count">How many.</param>
public sealed record RobotList(IReadOnlyList<RobotSummary> Robots, int Count);

/// <summary><c>GET /api/telemetry/robots/{robot_id}/metrics</c>.</summary>
/// <param name="RobotId">The robot.</param>
/// <param name="State">Its state.</param>
/// <param name="Metrics">The latest metrics.</param>
/// <param name="Extra">Other numeric fields.</param>
/// <param name="Timestamp">When they were sent.</param>
public sealed record RobotMetricsReading(string RobotId, string State, RobotMetrics Metrics, IReadOnlyDictionary<string, double> Extra, double Timestamp);

/// <summary>One metric over one bucket.</summary>
/// <param name="Min">Lowest.</param>
/// <param name="Avg">Mean.</param>
/// <param name="Max">Highest.</param>
public sealed record MetricSummary(double Min, double Avg, double Max);

/// <summary>One bucket of a robot's history.</summary>
/// <param name="Start">Start (Unix seconds).</param>
/// <param name="End">End (Unix seconds).</param>
/// <param name="Count">Samples in it.</param>
/// <param name="Metrics">Per metric.</param>
public sealed record HistoryBucket(double Start, double End, int Count, IReadOnlyDictionary<string, MetricSummary> Metrics);

/// <summary><c>GET /api/telemetry/robots/{robot_id}/history</c>.</summary>
/// <param name="RobotId">The robot.</param>
/// <param name="From">Range start.</param>
/// <param name="To">Range end.</param>
/// <param name="Step">Bucket width in seconds.</param>
/// <param name="SampleCount">Samples in the range.</param>
/// <param name="Buckets">The buckets.</param>
public sealed record RobotHistory(string RobotId, double From, double To, double Step, int SampleCount, IReadOnlyList<HistoryBucket> Buckets);

/// <summary>One Charter v1.0 envelope of the event stream.</summary>
/// <param name="Id">The event's id.</param>
/// <param name="Type">e.g. <c>mission.created</c> or <c>job_completed</c>.</param>
/// <param name="Source">missions_service, hub, …</param>
/// <param name="Target">e.g. <c>mission_42</c>; null for broadcasts.</param>
/// <param name="Timestamp">Unix seconds.</param>
/// <param name="Payload">The event's data.</param>
/// <param name="Meta"><c>correlation_id</c>, <c>version</c>, <c>traceparent</c>.</param>
/// <param name="Seq">Its position in the log: strictly increasing, gap-free.</param>
public sealed record EventEnvelope(string Id, string Type, string Source, string? Target, double Timestamp, JsonElement Payload, JsonElement Meta, long Seq);

/// <summary>A page of <c>GET /api/events</c>.</summary>
/// <param name="Epoch">The log's epoch: a seq means something only within it.</param>
/// <param name="Recovered">False when the read could not be served without a gap (take a fresh start).</param>
/// <param name="Events">The events, in seq order.</param>
/// <param name="NextAfterSeq">Pass back as <c>after_seq</c> for the next page.</param>
/// <param name="FirstSeq">The oldest retained seq.</param>
/// <param name="LastSeq">The newest seq.</param>
/// <param name="Reason">Why <paramref name="Recovered"/> is false.</param>
public sealed record EventPage(string Epoch, bool Recovered, IReadOnlyList<EventEnvelope> Events, long NextAfterSeq, long FirstSeq, long LastSeq, string? Reason);

/// <summary>Sent on the stream when a resume point cannot be honoured: events may be missing before the next one.</summary>
/// <param name="Recovered">Always false.</param>
/// <param name="Epoch">The log's epoch now.</param>
/// <param name="LastSeq">The newest seq.</param>
/// <param name="Reason">Why.</param>
public sealed record EventStreamReset(bool Recovered, string Epoch, long LastSeq, string Reason);

/// <summary><c>GET /api/health</c>.</summary>
/// <param name="Status">ok.</param>
/// <param name="Storage">sqlite or redis.</param>
/// <param name="Epoch">The event log's epoch.</param>
/// <param name="LastSeq">The newest seq.</param>
public sealed record HubHealth(string Status, string Storage, string Epoch, long LastSeq);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(NewMission))]
[JsonSerializable(typeof(Mission))]
[JsonSerializable(typeof(MissionPage))]
[JsonSerializable(typeof(MissionLogEntry))]
[JsonSerializable(typeof(MissionLogPage))]
[JsonSerializable(typeof(MissionStats))]
[JsonSerializable(typeof(StatusChange))]
[JsonSerializable(typeof(LogEntryBody))]
[JsonSerializable(typeof(SupervisorHealth))]
[JsonSerializable(typeof(SupervisorStatus))]
[JsonSerializable(typeof(List<Agent>))]
[JsonSerializable(typeof(RobotList))]
[JsonSerializable(typeof(RobotMetricsReading))]
[JsonSerializable(typeof(RobotHistory))]
[JsonSerializable(typeof(EventEnvelope))]
[JsonSerializable(typeof(EventPage))]
[JsonSerializable(typeof(EventStreamReset))]
[JsonSerializable(typeof(HubHealth))]
[JsonSerializable(typeof(JsonElement))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
