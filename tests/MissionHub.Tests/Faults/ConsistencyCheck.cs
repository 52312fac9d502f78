using System.Text;
using System.Text.Json;

namespace MissionHub.Tests.Faults;

/// <summary>
/// Missions and jobs as two readers see them: rebuilt from the event log (<c>GET /api/events</c>, every page), and
/// read from the REST API (<c>GET /api/missions</c> and <c>/api/missions/stats</c>, <c>GET /api/jobs</c>; there is
/// no job counters endpoint, so the job counts are those of the list). A change and its event are one write
/// (DESIGN §6), so the two must be equal, exactly, whatever crashed in between.
/// </summary>
public static class ConsistencyCheck
{
    private const string Relevant = "mission.*,job_*";

    /// <summary>
    /// Compares the two views at a quiet moment: the relevant events are read before and after the REST reads, and
    /// the comparison counts only when nothing relevant was appended in between (it retries until then, up to
    /// <paramref name="settle"/>). A mismatch that stays is reported, with every differing id.
    /// </summary>
    public static async Task<ConsistencyReport> RunAsync(HttpClient client, TimeSpan settle)
    {
        var deadline = DateTime.UtcNow + settle;
        while (true)
        {
            var before = await client.ReadEventsAsync(Relevant);
            var rest = await RestView.ReadAsync(client);
            var after = await client.ReadEventsAsync(Relevant);
            var report = Compare(EventView.From(before), rest);
            var quiet = before.Count == after.Count;
            if ((quiet && report.Consistent) || DateTime.UtcNow > deadline)
            {
                return quiet ? report : report with { Note = "the log kept growing during the reads; the last comparison is shown" };
            }
            await Task.Delay(100); // poll interval while the hub settles
        }
    }

    private static ConsistencyReport Compare(EventView events, RestView rest)
    {
        var missions = new List<string>();
        CompareStates("mission", events.Missions, rest.Missions, missions);
        foreach (var (status, count) in rest.MissionStatsByStatus)
        {
            var fromEvents = events.Missions.Values.Count(s => s == status);
            if (fromEvents != count)
            {
                missions.Add($"/api/missions/stats says {count} {status}, the events say {fromEvents}");
            }
        }
        if (rest.MissionStatsTotal != events.Missions.Count)
        {
            missions.Add($"/api/missions/stats says total {rest.MissionStatsTotal}, the events created {events.Missions.Count}");
        }
        var jobs = new List<string>();
        CompareStates("job", events.Jobs, rest.Jobs, jobs);
        foreach (var (id, completions) in events.Completions.Where(c => c.Value > 1))
        {
            jobs.Add($"job {id} completed {completions} times");
        }
        return new ConsistencyReport(events.Missions.Count, events.Jobs.Count, missions, jobs);
    }

    private static void CompareStates(string what, Dictionary<string, string> fromEvents, Dictionary<string, string> fromRest, List<string> into)
    {
        foreach (var (id, status) in fromRest)
        {
            if (!fromEvents.TryGetValue(id, out var replayed))
            {
                into.Add($"{what} {id} is {status} in the REST API but has no creating event");
            }
            else if (replayed != status)
            {
                into.Add($"{what} {id} is {status} in the REST API but {replayed} from its events");
            }
        }
        foreach (var (id, status) in fromEvents.Where(e => !fromRest.ContainsKey(e.Key)))
        {
            into.Add($"{what} {id} is {status} from its events but missing from the REST API");
        }
    }

    /// <summary>State per id from the events, in seq order; the last event that says a status wins.</summary>
    private sealed class EventView
    {
        public Dictionary<string, string> Missions { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, string> Jobs { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, int> Completions { get; } = new(StringComparer.Ordinal);

        public static EventView From(IEnumerable<JsonElement> events)
        {
            var view = new EventView();
            foreach (var evt in events.OrderBy(e => e.GetProperty("seq").GetInt64()))
            {
                var type = evt.GetProperty("type").GetString();
                switch (type)
                {
                    case "mission.created":
                        view.Missions[evt.PayloadString("mission_id")!] = evt.PayloadString("status")!;
                        break;
                    case "mission.status_changed":
                        view.Missions[evt.PayloadString("mission_id")!] = evt.PayloadString("new_status")!;
                        break;
                    case "job_submitted":
                        view.Jobs[evt.PayloadString("job_id")!] = "pending";
                        break;
                    case "job_assigned":
                        view.Jobs[evt.PayloadString("job_id")!] = "assigned";
                        break;
                    case "job_status_changed":
                        view.Jobs[evt.PayloadString("job_id")!] = evt.PayloadString("new_status")!;
                        break;
                    case "job_completed":
                        var id = evt.PayloadString("job_id")!;
                        view.Jobs[id] = "completed";
                        view.Completions[id] = view.Completions.GetValueOrDefault(id) + 1;
                        break;
                    case "job_failed":
                        view.Jobs[evt.PayloadString("job_id")!] = "failed";
                        break;
                }
            }
            return view;
        }
    }
}

/// <summary>Missions and jobs as the REST API answers for them, every page.</summary>
public sealed class RestView
{
    public Dictionary<string, string> Missions { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, string> Jobs { get; } = new(StringComparer.Ordinal);

    public long MissionStatsTotal { get; private set; }

    public Dictionary<string, long> MissionStatsByStatus { get; } = new(StringComparer.Ordinal);

    public static async Task<RestView> ReadAsync(HttpClient client)
    {
        var view = new RestView();
        await ReadPagesAsync(client, "/api/missions?limit=500", "missions", m => view.Missions[m.GetProperty("id").GetString()!] = m.GetProperty("status").GetString()!);
        await ReadPagesAsync(client, "/api/jobs?limit=500", "jobs", j => view.Jobs[j.GetProperty("id").GetString()!] = j.GetProperty("status").GetString()!);
        var stats = await client.GetJsonAsync("/api/missions/stats");
        view.MissionStatsTotal = stats.GetProperty("total").GetInt64();
        foreach (var entry in stats.GetProperty("by_status").EnumerateObject())
        {
            view.MissionStatsByStatus[entry.Name] = entry.Value.GetInt64();
        }
        return view;
    }

    private static async Task ReadPagesAsync(HttpClient client, string first, string property, Action<JsonElement> each)
    {
        string? cursor = null;
        do
        {
            var page = await client.GetJsonAsync(cursor is null ? first : $"{first}&cursor={Uri.EscapeDataString(cursor)}");
            foreach (var item in page.GetProperty(property).EnumerateArray())
            {
                each(item);
            }
            cursor = page.TryGetProperty("next_cursor", out var next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null;
        }
        while (cursor is not null);
    }
}

/// <summary>What the checker found: every difference, missions and jobs apart (mission writes and job steps are different write paths).</summary>
public sealed record ConsistencyReport(int Missions, int Jobs, IReadOnlyList<string> MissionMismatches, IReadOnlyList<string> JobMismatches)
{
    public string? Note { get; init; }

    public bool Consistent => MissionMismatches.Count == 0 && JobMismatches.Count == 0;

    public override string ToString()
    {
        var text = new StringBuilder($"{Missions} missions, {Jobs} jobs from the events");
        if (Note is not null)
        {
            text.Append(" (").Append(Note).Append(')');
        }
        Append(text, "mission", MissionMismatches);
        Append(text, "job", JobMismatches);
        return text.ToString();
    }

    private static void Append(StringBuilder text, string what, IReadOnlyList<string> mismatches)
    {
        if (mismatches.Count == 0)
        {
            return;
        }
        text.Append($"\n{mismatches.Count} {what} mismatch(es):");
        foreach (var line in mismatches.Take(20))
        {
            text.Append("\n  ").Append(line);
        }
        if (mismatches.Count > 20)
        {
            text.Append($"\n  … and {mismatches.Count - 20} more");
        }
    }
}
