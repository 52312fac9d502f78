using System.Text.Json;
using MissionHub.Events;
using MissionHub.Missions;

namespace MissionHub.History;

/// <summary>
/// Missions as their events (spec 002) describe them, for history views: every mission still PENDING or RUNNING, and
/// the newest <see cref="FinishedKept"/> finished ones. Bounded by live missions, never by how many ever ran.
/// </summary>
public sealed class MissionProjection
{
    public const int FinishedKept = 100;

    private readonly Dictionary<string, HistoryMission> _missions = new(StringComparer.Ordinal);
    // Finished missions, oldest finish first, so the oldest leaves when there are too many.
    private readonly LinkedList<string> _finishedOrder = new();

    /// <summary>Newest change first.</summary>
    public IReadOnlyList<HistoryMission> Missions() => [.. _missions.Values.OrderByDescending(m => m.UpdatedAt).ThenBy(m => m.Id, StringComparer.Ordinal)];

    public void Apply(CharterEvent evt)
    {
        ArgumentNullException.ThrowIfNull(evt);
        if (evt.Source != MissionEvents.Source)
        {
            return;
        }
        var p = evt.Payload;
        switch (evt.Type)
        {
            case MissionEvents.Created when Str(p, "mission_id") is { } id:
                Set(new HistoryMission(id, Str(p, "name") ?? "", Str(p, "status") ?? "PENDING",
                    p.TryGetProperty("created_at", out var created) && created.ValueKind == JsonValueKind.Number ? created.GetDouble() : evt.Timestamp));
                break;
            case MissionEvents.StatusChanged when Str(p, "mission_id") is { } id && Str(p, "new_status") is { } status:
            {
                var at = p.TryGetProperty("changed_at", out var changed) && changed.ValueKind == JsonValueKind.Number ? changed.GetDouble() : evt.Timestamp;
                // A mission created before the oldest checkpoint's log is known from its changes alone.
                var name = _missions.TryGetValue(id, out var known) ? known.Name : "";
                Set(new HistoryMission(id, name, status, at));
                break;
            }
        }
    }

    public IReadOnlyList<HistoryMission> Export() => [.. _missions.Values];

    public void Import(IEnumerable<HistoryMission> missions)
    {
        ArgumentNullException.ThrowIfNull(missions);
        _missions.Clear();
        _finishedOrder.Clear();
        foreach (var mission in missions.OrderBy(m => m.UpdatedAt))
        {
            Set(mission);
        }
    }

    private void Set(HistoryMission mission)
    {
        if (_missions.TryGetValue(mission.Id, out var old) && IsFinished(old.Status))
        {
            _finishedOrder.Remove(old.Id);
        }
        _missions[mission.Id] = mission;
        if (IsFinished(mission.Status))
        {
            _finishedOrder.AddLast(mission.Id);
            if (_finishedOrder.Count > FinishedKept)
            {
                _missions.Remove(_finishedOrder.First!.Value);
                _finishedOrder.RemoveFirst();
            }
        }
    }

    private static bool IsFinished(string status) => status is not ("PENDING" or "RUNNING");

    private static string? Str(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

/// <summary>A mission in a history view.</summary>
public sealed record HistoryMission(string Id, string Name, string Status, double UpdatedAt);
