using System.Text.Json.Serialization;

namespace MissionHub.Missions;

/// <summary>Where a mission is in its life. On the wire and in storage the values are UPPERCASE (DESIGN.md §3).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<MissionStatus>))]
public enum MissionStatus
{
    [JsonStringEnumMemberName("PENDING")]
    Pending,

    [JsonStringEnumMemberName("RUNNING")]
    Running,

    [JsonStringEnumMemberName("COMPLETED")]
    Completed,

    [JsonStringEnumMemberName("FAILED")]
    Failed,

    [JsonStringEnumMemberName("CANCELLED")]
    Cancelled,
}

/// <summary>The status machine: PENDING→RUNNING|FAILED|CANCELLED, RUNNING→COMPLETED|FAILED|CANCELLED; the rest are final.</summary>
public static class MissionStatuses
{
    public static readonly IReadOnlyList<MissionStatus> All =
        [MissionStatus.Pending, MissionStatus.Running, MissionStatus.Completed, MissionStatus.Failed, MissionStatus.Cancelled];

    /// <summary>"PENDING, RUNNING, COMPLETED, FAILED, CANCELLED" — for problem details.</summary>
    public static readonly string ValidValues = string.Join(", ", All.Select(s => s.ToWire()));

    public static string ToWire(this MissionStatus status) => status switch
    {
        MissionStatus.Pending => "PENDING",
        MissionStatus.Running => "RUNNING",
        MissionStatus.Completed => "COMPLETED",
        MissionStatus.Failed => "FAILED",
        MissionStatus.Cancelled => "CANCELLED",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "not a mission status"),
    };

    /// <summary>Parses the exact UPPERCASE wire value.</summary>
    public static bool TryParse(string? value, out MissionStatus status)
    {
        switch (value)
        {
            case "PENDING": status = MissionStatus.Pending; return true;
            case "RUNNING": status = MissionStatus.Running; return true;
            case "COMPLETED": status = MissionStatus.Completed; return true;
            case "FAILED": status = MissionStatus.Failed; return true;
            case "CANCELLED": status = MissionStatus.Cancelled; return true;
            default: status = default; return false;
        }
    }

    public static MissionStatus Parse(string value) =>
        TryParse(value, out var status) ? status : throw new FormatException($"'{value}' is not a mission status");

    public static bool IsFinal(this MissionStatus status) =>
        status is MissionStatus.Completed or MissionStatus.Failed or MissionStatus.Cancelled;

    public static bool CanChange(MissionStatus from, MissionStatus to) => (from, to) switch
    {
        (MissionStatus.Pending, MissionStatus.Running or MissionStatus.Failed or MissionStatus.Cancelled) => true,
        (MissionStatus.Running, MissionStatus.Completed or MissionStatus.Failed or MissionStatus.Cancelled) => true,
        _ => false,
    };

    private static readonly MissionStatus[][] AllowedFromTable =
        [.. All.Select(to => All.Where(from => CanChange(from, to)).ToArray())];

    /// <summary>The states a mission may be in for a change to <paramref name="to"/> to be allowed.</summary>
    public static IReadOnlyList<MissionStatus> AllowedFrom(MissionStatus to) => AllowedFromTable[(int)to];
}
