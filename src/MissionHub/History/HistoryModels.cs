using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using MissionHub.Events;
using MissionHub.Hub;
using MissionHub.Monitor;

namespace MissionHub.History;

/// <summary>
/// <c>GET /api/state</c>: the console as it was right after event <see cref="Seq"/> (at <see cref="Timestamp"/>, Unix s),
/// rebuilt from the checkpoint at <see cref="CheckpointSeq"/> (0: the start of the log) and the events after it.
/// </summary>
public sealed record StateResponse(
    string Epoch,
    long Seq,
    double? Timestamp,
    long FirstSeq,
    long LastSeq,
    long CheckpointSeq,
    StateJobs Jobs,
    JobCounts Counts,
    IReadOnlyDictionary<string, MonitorWorker> Workers,
    IReadOnlyDictionary<string, HistoryRobot> Robots,
    IReadOnlyList<HistoryMission> Missions);

/// <summary>Unfinished jobs oldest first; the newest completed, and the newest failed and cancelled together, newest first.</summary>
public sealed record StateJobs(
    IReadOnlyList<MonitorJob> Pending,
    IReadOnlyList<MonitorJob> Active,
    IReadOnlyList<MonitorJob> Completed,
    IReadOnlyList<MonitorJob> Failed);

/// <summary>The stored projection at one seq of one epoch.</summary>
public sealed record StateCheckpoint(
    string Epoch,
    long Seq,
    double? Timestamp,
    HubProjectionState Hub,
    IReadOnlyList<HistoryMission> Missions,
    IReadOnlyList<HistoryRobot> Robots);

/// <summary><c>GET /api/events/chain</c>: one action's events in seq order, with the time since the first and since the previous.</summary>
public sealed record EventChainResponse(
    string Epoch,
    string? CorrelationId,
    string? TraceId,
    int Count,
    double? DurationMs,
    bool ScanCapped,
    long ScannedFromSeq,
    long LastSeq,
    IReadOnlyList<ChainEvent> Events);

/// <summary>An envelope as <c>GET /api/events</c> gives it, with the time since the chain's first event and since the one before.</summary>
public sealed record ChainEvent(
    long Seq, string Id, string Type, string Source, string? Target, double Timestamp, JsonElement Payload, EventMeta Meta,
    double ElapsedMs, double SincePreviousMs)
{
    public static ChainEvent Of(CharterEvent evt, double elapsedMs, double sincePreviousMs)
    {
        ArgumentNullException.ThrowIfNull(evt);
        return new(evt.Seq, evt.Id, evt.Type, evt.Source, evt.Target, evt.Timestamp, evt.Payload, evt.Meta, elapsedMs, sincePreviousMs);
    }
}

/// <summary><c>MissionHub:History</c>.</summary>
public sealed class HistoryOptions
{
    public const string Section = "MissionHub:History";

    /// <summary>
    /// A checkpoint of the whole state is stored at every seq that is a multiple of this: a rebuild replays at most this
    /// many events (~5 µs each here), and compressed checkpoints this close cost a few MiB per million events.
    /// </summary>
    public int CheckpointEvery { get; set; } = 2_000;

    /// <summary>Where the log cannot look events up by correlation id (Redis), how many of the newest events a chain read examines.</summary>
    public int ChainScanWindow { get; set; } = 20_000;

    /// <summary>Most events one chain answer lists.</summary>
    public int MaxChainEvents { get; set; } = 1000;
}

internal sealed class HistoryOptionsValidator : IValidateOptions<HistoryOptions>
{
    public ValidateOptionsResult Validate(string? name, HistoryOptions options)
    {
        if (options.CheckpointEvery is < 2 or > 10_000_000)
        {
            return ValidateOptionsResult.Fail($"{HistoryOptions.Section}:CheckpointEvery is {options.CheckpointEvery}; it must be 2 to 10000000, e.g. 2000");
        }
        if (options.ChainScanWindow is < 100 or > 1_000_000)
        {
            return ValidateOptionsResult.Fail($"{HistoryOptions.Section}:ChainScanWindow is {options.ChainScanWindow}; it must be 100 to 1000000, e.g. 20000");
        }
        return options.MaxChainEvents is < 1 or > 100_000
            ? ValidateOptionsResult.Fail($"{HistoryOptions.Section}:MaxChainEvents is {options.MaxChainEvents}; it must be 1 to 100000, e.g. 1000")
            : ValidateOptionsResult.Success;
    }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(StateResponse))]
[JsonSerializable(typeof(StateCheckpoint))]
[JsonSerializable(typeof(EventChainResponse))]
public sealed partial class HistoryJsonContext : JsonSerializerContext;
