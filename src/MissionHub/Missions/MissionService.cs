using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using MissionHub.Events;
using MissionHub.Infrastructure;

namespace MissionHub.Missions;

/// <summary>
/// The rules of missions: validates requests and makes the one atomic store call that writes the change together with
/// its <c>mission.*</c> event of spec 002. A refused request writes nothing and publishes nothing.
/// </summary>
public sealed partial class MissionService(
    IMissionStore store,
    IOptions<MissionOptions> options,
    TimeProvider time,
    ILogger<MissionService> logger)
{
    public const int MaxIdLength = 128;
    public const int MaxNameLength = 200;
    public const int MaxDescriptionLength = 2000;
    public const int MaxMessageLength = 10_000;
    public const int MaxDataBytes = 64 * 1024;
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 500;
    public const int DefaultLogPageSize = 100;
    public const int MaxLogPageSize = 1000;

    private const string MissionCursorTag = "m:";
    private const string LogCursorTag = "l:";

    public async Task<MissionOutcome<Mission>> CreateAsync(CreateMissionRequest request, CancellationToken cancellationToken)
    {
        var prepared = Prepare(request);
        if (prepared.Error is { } refused)
        {
            return refused;
        }
        var mission = prepared.Value!;
        // Once sent, the write happens or not as a whole: a client that goes away does not stop it half-way.
        if (!await store.CreateAsync(mission, CancellationToken.None))
        {
            return MissionError.Conflict($"a mission with id '{mission.Id}' already exists");
        }
        LogCreated(logger, mission.Id);
        return mission;
    }

    /// <summary>
    /// A create carrying an <c>Idempotency-Key</c>: the first request with the key creates the mission; the same key with
    /// the same request (<paramref name="fingerprint"/>) within <see cref="IdempotencyKeys.Window"/> answers with that mission
    /// (<see cref="CreatedMission.Replayed"/>), with a different request it is a 409 naming the key.
    /// </summary>
    public async Task<MissionOutcome<CreatedMission>> CreateOnceAsync(
        CreateMissionRequest request, string idempotencyKey, string fingerprint, CancellationToken cancellationToken)
    {
        var prepared = Prepare(request);
        if (prepared.Error is { } refused)
        {
            return refused;
        }
        var mission = prepared.Value!;
        var claim = new IdempotencyClaim(idempotencyKey, fingerprint, mission.CreatedAt + IdempotencyKeys.Window.TotalSeconds);
        var outcome = await store.CreateOnceAsync(mission, MissionLogEntries.Created(mission),
            MissionEvents.CreatedDraft(mission, EventDrafts.CurrentMeta()), claim, CancellationToken.None);
        if (outcome.Created)
        {
            LogCreated(logger, mission.Id);
            return new CreatedMission(mission, Replayed: false);
        }
        if (outcome.ExistingId is not { } existingId)
        {
            return MissionError.Conflict($"a mission with id '{mission.Id}' already exists");
        }
        if (outcome.ExistingFingerprint != fingerprint)
        {
            return new MissionError(StatusCodes.Status409Conflict,
                $"Idempotency-Key '{idempotencyKey}' was used with a different request (mission '{existingId}'); use a new key for a new mission",
                "Idempotency-Key", new Dictionary<string, object?> { ["mission_id"] = existingId });
        }
        return await store.GetAsync(existingId, cancellationToken) is { } original
            ? new CreatedMission(original, Replayed: true)
            : MissionError.NotFound(existingId);
    }

    private MissionOutcome<Mission> Prepare(CreateMissionRequest request)
    {
        if (request.Id is { } requestedId && ValidateId(requestedId) is { } badId)
        {
            return badId;
        }
        if (string.IsNullOrWhiteSpace(request.Name))
        {
            return MissionError.Invalid("name", "name is required and must not be blank");
        }
        if (request.Name.Length > MaxNameLength)
        {
            return MissionError.Invalid("name", $"name is at most {MaxNameLength} characters, not {request.Name.Length}");
        }
        if (request.Description is { Length: > MaxDescriptionLength } description)
        {
            return MissionError.Invalid("description", $"description is at most {MaxDescriptionLength} characters, not {description.Length}");
        }
        var data = EmptyObject;
        if (request.Data is { } given && ValidateData(given, out data) is { } badData)
        {
            return badData;
        }
        var now = Now();
        return new Mission(request.Id ?? Guid.NewGuid().ToString(), request.Name, request.Description, data, MissionStatus.Pending, now, now);
    }

    public Task<Mission?> GetAsync(string id, CancellationToken cancellationToken) =>
        IsValidId(id) ? store.GetAsync(id, cancellationToken) : Task.FromResult<Mission?>(null);

    public async Task<MissionOutcome<MissionPage>> ListAsync(
        string? status, string? limit, string? cursor, CancellationToken cancellationToken)
    {
        MissionStatus? filter = null;
        if (status is not null)
        {
            if (!MissionStatuses.TryParse(status, out var parsed))
            {
                return MissionError.Invalid("status", $"status '{status}' is not a mission status; valid values: {MissionStatuses.ValidValues}");
            }
            filter = parsed;
        }
        if (ParseLimit(limit, DefaultPageSize, MaxPageSize) is not { } pageSize)
        {
            return MissionError.Invalid("limit", $"limit must be a whole number from 1 to {MaxPageSize}, not '{limit}'");
        }
        long? before = null;
        if (cursor is not null)
        {
            if (DecodeCursor(cursor, MissionCursorTag) is not { } position)
            {
                return MissionError.Invalid("cursor", "cursor is not one this server handed out; pass back next_cursor unchanged");
            }
            before = position;
        }
        var listing = await store.ListAsync(filter, before, pageSize, cancellationToken);
        return new MissionPage(
            listing.Missions.Select(m => m.ToResponse()).ToList(),
            listing.NextBefore is { } next ? EncodeCursor(MissionCursorTag, next) : null);
    }

    public async Task<MissionOutcome<Mission>> ChangeStatusAsync(
        string id, StatusChangeRequest request, CancellationToken cancellationToken)
    {
        if (request.Status is null)
        {
            return MissionError.Invalid("status", $"status is required; valid values: {MissionStatuses.ValidValues}");
        }
        if (!MissionStatuses.TryParse(request.Status, out var to))
        {
            return MissionError.Invalid("status", $"status '{request.Status}' is not a mission status; valid values: {MissionStatuses.ValidValues}");
        }
        if (!IsValidId(id))
        {
            return MissionError.NotFound(id);
        }

        // Once sent, the write happens or not as a whole.
        var change = await store.ChangeStatusAsync(id, to, Now(), CancellationToken.None);
        switch (change.Outcome)
        {
            case StatusChangeOutcome.NotFound:
                return MissionError.NotFound(id);
            case StatusChangeOutcome.Unchanged:
                return change.Mission!;
            case StatusChangeOutcome.Refused:
                return MissionError.Conflict(
                    $"cannot change status from {change.Previous.ToWire()} to {to.ToWire()}",
                    new Dictionary<string, object?>
                    {
                        ["current_status"] = change.Previous.ToWire(),
                        ["requested_status"] = to.ToWire(),
                    });
        }

        var mission = change.Mission!;
        LogStatusChanged(logger, id, change.Previous, to);
        return mission;
    }

    public async Task<MissionOutcome<MissionLogEntry>> AppendLogAsync(
        string id, LogEntryRequest request, CancellationToken cancellationToken)
    {
        if (!MissionLogLevels.IsValid(request.Level))
        {
            return MissionError.Invalid("level", request.Level is null
                ? $"level is required; valid values: {MissionLogLevels.ValidValues}"
                : $"level '{request.Level}' is not a log level; valid values: {MissionLogLevels.ValidValues}");
        }
        if (string.IsNullOrWhiteSpace(request.Message))
        {
            return MissionError.Invalid("message", "message is required and must not be blank");
        }
        if (request.Message.Length > MaxMessageLength)
        {
            return MissionError.Invalid("message", $"message is at most {MaxMessageLength} characters, not {request.Message.Length}");
        }
        JsonElement? data = null;
        if (request.Data is { } given)
        {
            if (ValidateData(given, out var compact) is { } badData)
            {
                return badData;
            }
            data = compact;
        }
        if (!IsValidId(id))
        {
            return MissionError.NotFound(id);
        }

        var entry = new MissionLogEntry(Now(), request.Level!, request.Message, data);
        var maxEntries = options.Value.MaxLogEntries;
        switch (await store.AppendLogAsync(id, entry, maxEntries, CancellationToken.None))
        {
            case LogAppend.NoSuchMission:
                return MissionError.NotFound(id);
            case LogAppend.Full:
                return new MissionError(StatusCodes.Status409Conflict,
                    $"mission '{id}' has {maxEntries} log entries, the most one mission keeps ({MissionOptions.Section}:MaxLogEntries); nothing was appended",
                    "log", new Dictionary<string, object?> { ["max_log_entries"] = maxEntries });
        }
        return entry;
    }

    public async Task<MissionOutcome<MissionLogPage>> ReadLogAsync(
        string id, string? limit, string? cursor, CancellationToken cancellationToken)
    {
        if (ParseLimit(limit, DefaultLogPageSize, MaxLogPageSize) is not { } pageSize)
        {
            return MissionError.Invalid("limit", $"limit must be a whole number from 1 to {MaxLogPageSize}, not '{limit}'");
        }
        long from = 0;
        if (cursor is not null)
        {
            if (DecodeCursor(cursor, LogCursorTag) is not { } position)
            {
                return MissionError.Invalid("cursor", "cursor is not one this server handed out; pass back next_cursor unchanged");
            }
            from = position;
        }
        var slice = IsValidId(id) ? await store.ReadLogAsync(id, from, pageSize, cancellationToken) : null;
        if (slice is null)
        {
            return MissionError.NotFound(id);
        }
        return new MissionLogPage(id, slice.Entries, slice.NextFrom is { } next ? EncodeCursor(LogCursorTag, next) : null);
    }

    public Task<MissionStats> GetStatsAsync(CancellationToken cancellationToken) => store.GetStatsAsync(cancellationToken);

    /// <summary>1–128 letters, digits, '-', '_' or '.'; not "." or ".." (they vanish from URLs) nor "stats" (a route).</summary>
    public static bool IsValidId(string id) =>
        id.Length is > 0 and <= MaxIdLength
        && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
        && id is not ("." or ".." or "stats");

    private static MissionError? ValidateId(string id) => IsValidId(id)
        ? null
        : MissionError.Invalid("id",
            $"id must be 1 to {MaxIdLength} characters of letters, digits, '-', '_' or '.' (and not '.', '..' or 'stats')");

    /// <summary>Data must be a JSON object of at most 64 KiB once written compactly; that compact form is what is kept.</summary>
    private static MissionError? ValidateData(JsonElement given, out JsonElement data)
    {
        data = EmptyObject;
        if (given.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (given.ValueKind != JsonValueKind.Object)
        {
            return MissionError.Invalid("data", $"data must be a JSON object, not {given.ValueKind.ToString().ToLowerInvariant()}");
        }
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            given.WriteTo(writer);
        }
        if (buffer.WrittenCount > MaxDataBytes)
        {
            return MissionError.Invalid("data", $"data is at most {MaxDataBytes} bytes as JSON, not {buffer.WrittenCount}");
        }
        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        data = document.RootElement.Clone();
        return null;
    }

    private static int? ParseLimit(string? text, int defaultValue, int max)
    {
        if (text is null)
        {
            return defaultValue;
        }
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= 1 && value <= max
            ? value
            : null;
    }

    private static string EncodeCursor(string tag, long position) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes(tag + position.ToString(CultureInfo.InvariantCulture)));

    private static long? DecodeCursor(string cursor, string tag)
    {
        if (cursor.Length is 0 or > 64)
        {
            return null;
        }
        try
        {
            var text = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor));
            return text.StartsWith(tag, StringComparison.Ordinal)
                && long.TryParse(text.AsSpan(tag.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var position)
                    ? position
                    : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private double Now() => EventBus.UnixSeconds(time.GetUtcNow());

    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();

    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "Mission {MissionId} created")]
    private static partial void LogCreated(ILogger logger, string missionId);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Debug, Message = "Mission {MissionId} status changed from {From} to {To}")]
    private static partial void LogStatusChanged(ILogger logger, string missionId, MissionStatus from, MissionStatus to);
}

/// <summary>Why a mission request was refused; becomes a problem+json answer.</summary>
public sealed record MissionError(int StatusCode, string Detail, string? Field = null, IDictionary<string, object?>? Extensions = null)
{
    public static MissionError Invalid(string field, string detail) => new(StatusCodes.Status400BadRequest, detail, field);

    public static MissionError NotFound(string id) => new(StatusCodes.Status404NotFound, $"there is no mission with id '{id}'");

    public static MissionError Conflict(string detail, IDictionary<string, object?>? extensions = null) =>
        new(StatusCodes.Status409Conflict, detail, Extensions: extensions);
}

/// <summary>Either a value or the <see cref="MissionError"/> that stopped it.</summary>
/// <summary>A mission a guarded create answered with: new, or the one its idempotency key created before.</summary>
public sealed record CreatedMission(Mission Mission, bool Replayed);

public readonly struct MissionOutcome<T>
    where T : class
{
    private MissionOutcome(T? value, MissionError? error)
    {
        Value = value;
        Error = error;
    }

    public T? Value { get; }

    public MissionError? Error { get; }

    public static implicit operator MissionOutcome<T>(T value) => new(value, null);

    public static implicit operator MissionOutcome<T>(MissionError error) => new(null, error);
}
