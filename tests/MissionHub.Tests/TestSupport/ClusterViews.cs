using System.Globalization;
using System.Text.Json;

namespace MissionHub.Tests.TestSupport;

/// <summary>The shared views one process gives of the hub (DESIGN §6 "Shared views"), read as a client would.</summary>
public static class ClusterViews
{
    /// <summary><c>/ws/monitor</c>: <c>monitor_connect</c> → the <c>full_state_snapshot</c> message.</summary>
    public static async Task<JsonElement> SnapshotAsync(Uri baseAddress)
    {
        await using var monitor = await RawWorker.ConnectAsync(baseAddress, "/ws/monitor");
        await monitor.SendAsync(new { type = "monitor_connect", monitor_id = "cluster-test" });
        return await monitor.ReceiveTypeAsync("full_state_snapshot");
    }

    /// <summary>The comparable part of a snapshot: its <c>system_stats</c>, worker ids, and pending/active job ids.</summary>
    public static string SnapshotSummary(JsonElement snapshot)
    {
        var data = snapshot.GetProperty("data");
        var stats = data.GetProperty("system_stats");
        var workers = data.GetProperty("workers").EnumerateObject().Select(w => w.Name).Order(StringComparer.Ordinal);
        var jobs = data.GetProperty("jobs");
        string Ids(string list) => string.Join(',', jobs.GetProperty(list).EnumerateArray().Select(j => j.GetProperty("id").GetString()).Order(StringComparer.Ordinal));
        return string.Create(CultureInfo.InvariantCulture,
            $"stats total={stats.GetProperty("total_jobs")} pending={stats.GetProperty("pending_jobs")} active={stats.GetProperty("active_jobs")} " +
            $"completed={stats.GetProperty("completed_jobs")} failed={stats.GetProperty("failed_jobs")} workers={stats.GetProperty("total_workers")}; " +
            $"workers [{string.Join(',', workers)}]; pending [{Ids("pending")}]; active [{Ids("active")}]");
    }

    /// <summary><c>GET /api/supervisor/agents?kind=worker</c>: state by worker id.</summary>
    public static async Task<SortedDictionary<string, string>> WorkerAgentsAsync(HttpClient client)
    {
        var agents = await client.GetJsonAsync("/api/supervisor/agents?kind=worker");
        var states = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var agent in agents.EnumerateArray())
        {
            states[agent.GetProperty("id").GetString()!] = agent.GetProperty("state").GetString()!;
        }
        return states;
    }

    /// <summary><c>GET /api/supervisor/status</c> without what legitimately differs between two reads (times).</summary>
    public static async Task<string> StatusSummaryAsync(HttpClient client)
    {
        var status = await client.GetJsonAsync("/api/supervisor/status");
        var parts = new List<string>();
        foreach (var property in status.EnumerateObject())
        {
            switch (property.Name)
            {
                case "timestamp":
                    break;
                case "agents":
                    parts.Add("agents=" + string.Join(',', property.Value.EnumerateArray()
                        .Select(a => $"{a.GetProperty("id").GetString()}:{a.GetProperty("kind").GetString()}:{a.GetProperty("state").GetString()}")
                        .Order(StringComparer.Ordinal)));
                    break;
                default:
                    parts.Add($"{property.Name}={property.Value.GetRawText()}");
                    break;
            }
        }
        return string.Join(' ', parts);
    }

    /// <summary>The <c>missionhub_jobs{status=…}</c> gauges of <c>GET /metrics</c>.</summary>
    public static async Task<SortedDictionary<string, double>> JobGaugesAsync(HttpClient client)
    {
        var text = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        var gauges = new SortedDictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            // missionhub_jobs{otel_scope_name="MissionHub",status="completed"} 600 [timestamp]
            if (!line.StartsWith("missionhub_jobs{", StringComparison.Ordinal))
            {
                continue;
            }
            var close = line.IndexOf('}', StringComparison.Ordinal);
            var labels = line["missionhub_jobs{".Length..close];
            var at = labels.IndexOf("status=\"", StringComparison.Ordinal);
            if (close < 0 || at < 0)
            {
                continue;
            }
            var status = labels[(at + "status=\"".Length)..];
            status = status[..status.IndexOf('"', StringComparison.Ordinal)];
            var value = line[(close + 1)..].Trim().Split(' ')[0];
            gauges[status] = double.Parse(value, CultureInfo.InvariantCulture);
        }
        return gauges;
    }

    /// <summary>How many jobs <c>GET /api/jobs?status=…&amp;job_type=…</c> lists, following every page.</summary>
    public static async Task<int> CountJobsAsync(HttpClient client, string status, string jobType)
    {
        var count = 0;
        string? cursor = null;
        while (true)
        {
            var page = await client.GetJsonAsync($"/api/jobs?status={status}&job_type={Uri.EscapeDataString(jobType)}&limit=500"
                + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}"));
            count += page.GetProperty("jobs").GetArrayLength();
            if (page.GetProperty("next_cursor") is not { ValueKind: JsonValueKind.String } next)
            {
                return count;
            }
            cursor = next.GetString();
        }
    }
}
