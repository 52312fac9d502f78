using System.Globalization;
using System.Text.Json;
using MissionHub.Events;

namespace MissionHub.Bench;

/// <summary>
/// A steady hub workload as events, in causal order: 20 workers; each job submitted about 100 jobs ahead of being
/// assigned, then running, one progress report, and completed (1 in 20 fails); a mission created or moved on every
/// 20 jobs; a robot's metrics published every 10. Live state stays about 100 pending jobs however long it runs.
/// </summary>
internal static class HubWorkload
{
    private const int Workers = 20;
    private const int Backlog = 100;
    private const double EventGapSeconds = 0.0036;

    public static IEnumerable<CharterEvent> Events(int count, double start)
    {
        var emitted = 0;
        var time = start;
        CharterEvent Next(string type, string source, string? target, string payload)
        {
            time += EventGapSeconds;
            emitted++;
            return new CharterEvent
            {
                Id = Guid.CreateVersion7().ToString(),
                Type = type,
                Source = source,
                Target = target,
                Timestamp = Math.Round(time, 6),
                Payload = JsonDocument.Parse(payload).RootElement.Clone(),
                Meta = new EventMeta($"bench-{emitted}"),
            };
        }
        string T() => time.ToString("F6", CultureInfo.InvariantCulture);

        for (var w = 0; w < Workers && emitted < count; w++)
        {
            yield return Next("worker_connected", "hub", $"worker_w{w}",
                $$$"""{"worker_id":"w{{{w}}}","worker_data":{"id":"w{{{w}}}","status":"idle","capabilities":{"job_types":["render"],"max_concurrent_jobs":2},"connected_at":"2026-01-01T00:00:00.000Z"}}""");
        }
        for (var job = 0; emitted < count; job++)
        {
            var id = $"job{job:D8}";
            yield return Next("job_submitted", "hub", "job_" + id,
                $$$"""{"job_id":"{{{id}}}","job_data":{"id":"{{{id}}}","job_type":"render","status":"pending","priority":{{{job % 5}}},"workflow_id":null,"created_at":{{{T()}}},"run_at":null,"schedule_id":null}}""");
            if (job < Backlog)
            {
                continue;
            }
            // The job submitted a backlog ago runs now, start to end, on one of the workers.
            var run = $"job{job - Backlog:D8}";
            var worker = $"w{job % Workers}";
            foreach (var evt in new[]
            {
                Next("job_assigned", "hub", "job_" + run, $$"""{"job_id":"{{run}}","worker_id":"{{worker}}","old_status":"pending","new_status":"assigned","assigned_at":{{T()}},"attempt":1}"""),
                Next("job_status_changed", "hub", "job_" + run, $$"""{"job_id":"{{run}}","old_status":"assigned","new_status":"running","worker_id":"{{worker}}","error":null,"retry_at":null}"""),
                Next("job_progress", "hub", "job_" + run, $$"""{"job_id":"{{run}}","worker_id":"{{worker}}","progress":0.5}"""),
                job % 20 == 0
                    ? Next("job_failed", "hub", "job_" + run, $$"""{"job_id":"{{run}}","worker_id":"{{worker}}","error":"render failed: out of memory","failed_at":{{T()}}}""")
                    : Next("job_completed", "hub", "job_" + run, $$"""{"job_id":"{{run}}","worker_id":"{{worker}}","result":{"frames":{{job % 300}},"ok":true},"completed_at":{{T()}}}"""),
            })
            {
                yield return evt;
            }
            if (job % 20 == 0)
            {
                var mission = $"m{job / 60:D6}";
                yield return (job / 20 % 3) switch
                {
                    0 => Next("mission.created", "missions_service", null,
                        $$"""{"mission_id":"{{mission}}","name":"survey {{mission}}","description":"","status":"PENDING","created_at":{{T()}}}"""),
                    1 => Next("mission.status_changed", "missions_service", "mission_" + mission,
                        $$"""{"mission_id":"{{mission}}","old_status":"PENDING","new_status":"RUNNING","changed_at":{{T()}}}"""),
                    _ => Next("mission.status_changed", "missions_service", "mission_" + mission,
                        $$"""{"mission_id":"{{mission}}","old_status":"RUNNING","new_status":"COMPLETED","changed_at":{{T()}}}"""),
                };
            }
            if (job % 10 == 5)
            {
                yield return Next("telemetry.metrics_published", "telemetry_service", null,
                    $$"""{"robot_id":"r{{job % 7}}","metrics":{"cpu_usage":{{job % 100}}.5,"memory_usage":61.2,"network_latency_ms":12.5,"battery_percentage":{{100 - job % 100}}},"published_at":{{T()}}}""");
            }
        }
    }
}
