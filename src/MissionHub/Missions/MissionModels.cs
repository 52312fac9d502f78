using System.Text.Json;
using System.Text.Json.Serialization;
using MissionHub.Events;

namespace MissionHub.Missions;

/// <summary>
/// A mission as stored. Only <see cref="Status"/> and <see cref="UpdatedAt"/> ever change after creation.
/// <see cref="Data"/> is always a JSON object. Times are Unix seconds.
/// </summary>
public sealed record Mission(
    string Id,
    string Name,
    string? Description,
    JsonElement Data,
    MissionStatus Status,
    double CreatedAt,
    double UpdatedAt)
{
    public MissionResponse ToResponse() => new(Id, Name, Description, Data, Status, CreatedAt, UpdatedAt);
}

/// <summary>One line of a mission's log. <see cref="Level"/> is one of <see cref="MissionLogLevels.All"/>.</summary>
public sealed record MissionLogEntry(double Timestamp, string Level, string Message, JsonElement? Data);

/// <summary>The entries the service writes itself, identical on both backends.</summary>
public static class MissionLogEntries
{
    public static MissionLogEntry Created(Mission mission) => new(
        mission.CreatedAt,
        MissionLogLevels.Info,
        "Mission created",
        JsonSerializer.SerializeToElement(
            new Dictionary<string, string?> { ["name"] = mission.Name, ["description"] = mission.Description },
            MissionsJsonContext.Default.DictionaryStringString));

    public static MissionLogEntry StatusChanged(MissionStatus from, MissionStatus to, double at) => new(
        at,
        MissionLogLevels.Info,
        "Mission status changed",
        JsonSerializer.SerializeToElement(
            new Dictionary<string, string?> { ["from"] = from.ToWire(), ["to"] = to.ToWire() },
            MissionsJsonContext.Default.DictionaryStringString));
}

public static class MissionLogLevels
{
    public const string Debug = "debug";
    public const string Info = "info";
    public const string Warning = "warning";
    public const string Error = "error";

    public static readonly IReadOnlyList<string> All = [Debug, Info, Warning, Error];

    public static readonly string ValidValues = string.Join(", ", All);

    public static bool IsValid(string? level) => level is Debug or Info or Warning or Error;
}

// ---- HTTP requests (parsed by MissionRequestReader so a malformed body still gets a problem naming the field) ----

public sealed record CreateMissionRequest(string? Id, string? Name, string? Description, JsonElement? Data);

public sealed record StatusChangeRequest(string? Status);

public sealed record LogEntryRequest(string? Level, string? Message, JsonElement? Data);

// ---- HTTP responses ----

public sealed record MissionResponse(
    string Id,
    string Name,
    string? Description,
    JsonElement Data,
    MissionStatus Status,
    double CreatedAt,
    double UpdatedAt);

/// <summary>A page of <c>GET /api/missions</c>, newest first; pass <see cref="NextCursor"/> back as <c>cursor</c>.</summary>
public sealed record MissionPage(IReadOnlyList<MissionResponse> Missions, string? NextCursor);

/// <summary>A page of <c>GET /api/missions/{id}/log</c>, oldest first.</summary>
public sealed record MissionLogPage(string MissionId, IReadOnlyList<MissionLogEntry> Entries, string? NextCursor);

/// <summary>Maintained counters: <see cref="ByStatus"/> has all five statuses and sums to <see cref="Total"/>.</summary>
public sealed record MissionStats(long Total, IReadOnlyDictionary<string, long> ByStatus, double? LastUpdated);

// ---- Event payloads (spec 002; keys exactly as there) ----

public sealed record MissionCreatedPayload(string MissionId, string Name, string Description, MissionStatus Status, double CreatedAt);

public sealed record MissionStatusChangedPayload(string MissionId, MissionStatus OldStatus, MissionStatus NewStatus, double ChangedAt);

public sealed record MissionLogAppendedPayload(string MissionId, string LogLevel, string Message, double AppendedAt);

public static class MissionEvents
{
    public const string Source = "missions_service";
    public const string Created = "mission.created";
    public const string StatusChanged = "mission.status_changed";
    public const string LogAppended = "mission.log_appended";

    public static string Target(string missionId) => $"mission_{missionId}";

    // Drafts for the store, which writes each in the same atomic step as the change it describes.

    public static CharterEvent CreatedDraft(Mission mission, EventMeta meta) =>
        EventDrafts.Create(Created, Source, null, mission.CreatedAt, meta,
            new MissionCreatedPayload(mission.Id, mission.Name, mission.Description ?? "", mission.Status, mission.CreatedAt),
            MissionsJsonContext.Default.MissionCreatedPayload);

    public static CharterEvent StatusChangedDraft(string missionId, MissionStatus from, MissionStatus to, double at, EventMeta meta) =>
        EventDrafts.Create(StatusChanged, Source, Target(missionId), at, meta,
            new MissionStatusChangedPayload(missionId, from, to, at), MissionsJsonContext.Default.MissionStatusChangedPayload);

    public static CharterEvent LogAppendedDraft(string missionId, MissionLogEntry entry, EventMeta meta) =>
        EventDrafts.Create(LogAppended, Source, Target(missionId), entry.Timestamp, meta,
            new MissionLogAppendedPayload(missionId, entry.Level, entry.Message, entry.Timestamp),
            MissionsJsonContext.Default.MissionLogAppendedPayload);
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(Mission))]
[JsonSerializable(typeof(MissionLogEntry))]
[JsonSerializable(typeof(MissionResponse))]
[JsonSerializable(typeof(MissionPage))]
[JsonSerializable(typeof(MissionLogPage))]
[JsonSerializable(typeof(MissionStats))]
[JsonSerializable(typeof(CreateMissionRequest))]
[JsonSerializable(typeof(StatusChangeRequest))]
[JsonSerializable(typeof(LogEntryRequest))]
[JsonSerializable(typeof(MissionCreatedPayload))]
[JsonSerializable(typeof(MissionStatusChangedPayload))]
[JsonSerializable(typeof(MissionLogAppendedPayload))]
[JsonSerializable(typeof(Dictionary<string, string?>))]
public sealed partial class MissionsJsonContext : JsonSerializerContext;
