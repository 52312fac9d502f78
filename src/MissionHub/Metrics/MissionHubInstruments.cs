using System.Diagnostics.Metrics;
using MissionHub.Agents;
using MissionHub.Events;
using MissionHub.History;
using MissionHub.Hub;
using MissionHub.Monitor;
using MissionHub.Telemetry;

namespace MissionHub.Metrics;

/// <summary>
/// The <c>MissionHub</c> meter: observable instruments read from state the hub already keeps (the last aggregation,
/// the read model of the event log, the agent registry, the event bus, the monitors, the robots), so a scrape costs no storage
/// round trip. Robot gauges carry only robots connected or recently heard from, and only the four spec metrics.
/// </summary>
public sealed class MissionHubInstruments : IDisposable
{
    private readonly Meter _meter;

    public MissionHubInstruments(
        IMeterFactory meters,
        MissionMetricsAggregator aggregator,
        AgentRegistry agents,
        EventBus bus,
        MonitorState monitors,
        TelemetryService telemetry,
        CheckpointWriter checkpoints,
        Microsoft.Extensions.Options.IOptions<MetricsOptions> options)
    {
        _meter = meters.Create(options.Value.MeterName);

        _meter.CreateObservableGauge("missionhub.missions", () => aggregator.Latest is { } latest
            ? latest.ByStatus.Select(s => new Measurement<long>(s.Value, Tag("status", s.Key)))
            : [], "{mission}", "Missions stored, by status (as of the last aggregation)");

        _meter.CreateObservableGauge("missionhub.missions.success_rate", () => aggregator.Latest is { } latest
            ? latest.Windows.Where(w => w.SuccessRate is not null).Select(w => new Measurement<double>(w.SuccessRate!.Value, Tag("window", w.Window)))
            : [], null, "COMPLETED / finished missions that finished within the window");

        _meter.CreateObservableGauge("missionhub.jobs", () =>
        {
            var counts = monitors.Counts();
            return new[]
            {
                new Measurement<long>(counts.Pending, Tag("status", JobStatus.Pending)),
                new Measurement<long>(counts.Assigned, Tag("status", JobStatus.Assigned)),
                new Measurement<long>(counts.Running, Tag("status", JobStatus.Running)),
                new Measurement<long>(counts.Completed, Tag("status", JobStatus.Completed)),
                new Measurement<long>(counts.Failed, Tag("status", JobStatus.Failed)),
                new Measurement<long>(counts.Cancelled, Tag("status", JobStatus.Cancelled)),
            };
        }, "{job}", "Jobs by status");

        _meter.CreateObservableGauge("missionhub.queue.jobs", () => monitors.QueueGauges().SelectMany(q => new[]
            {
                new Measurement<long>(q.Pending, Tag("job_type", q.JobType), Tag("status", "pending")),
                new Measurement<long>(q.Active, Tag("job_type", q.JobType), Tag("status", "active")),
            }), "{job}", "Unfinished jobs per job type: pending, and active (assigned or running)");
        _meter.CreateObservableGauge("missionhub.queue.paused", () => monitors.QueueGauges()
            .Select(q => new Measurement<long>(q.Paused ? 1 : 0, Tag("job_type", q.JobType))), null, "1 while the job type is paused");
        _meter.CreateObservableCounter("missionhub.queue.completed", () => monitors.QueueGauges()
            .Select(q => new Measurement<long>(q.Completed, Tag("job_type", q.JobType))), "{job}", "Jobs completed per job type since this process started");
        _meter.CreateObservableCounter("missionhub.queue.failed", () => monitors.QueueGauges()
            .Select(q => new Measurement<long>(q.Failed, Tag("job_type", q.JobType))), "{job}", "Jobs failed for good per job type since this process started");

        _meter.CreateObservableGauge("missionhub.agents", () =>
            monitors.WorkerStates().Select(w => (Kind: AgentKind.Worker, State: w.Status))
                .Concat(agents.ListRobots().Select(r => (r.Kind, r.State)))
                .GroupBy(a => (a.Kind, a.State))
                .Select(g => new Measurement<long>(g.Count(), Tag("kind", g.Key.Kind), Tag("state", g.Key.State))),
            "{agent}", "Workers and robots by state (offline and broken ones while they are still listed)");

        _meter.CreateObservableCounter("missionhub.events.published", () => bus.Log.Appended, "{event}", "Events this process appended to the event log");
        if (bus.Log is GroupCommitEventLog log)
        {
            _meter.CreateObservableCounter("missionhub.events.store_reads", () => log.ReadsFromStore, "{read}",
                "Event reads answered by storage rather than the in-memory ring of recent events (readers behind the ring, events of other processes)");
        }
        _meter.CreateObservableCounter("missionhub.events.publish_failures", () => bus.PublishFailures, "{event}", "Events that could not be appended to the log");
        _meter.CreateObservableGauge("missionhub.events.last_seq", () => bus.DispatchedSeq, null, "Seq of the last event handed to subscribers");
        _meter.CreateObservableGauge("missionhub.history.checkpoint_seq", () => checkpoints.WrittenSeq, null,
            "Seq of the newest state checkpoint this process stored (0 while it is not the writer or has stored none)");
        _meter.CreateObservableGauge("missionhub.monitors.connected", () => monitors.ConnectedMonitors, "{connection}", "Monitor sockets open");
        _meter.CreateObservableCounter("missionhub.monitors.missed_events", () => monitors.MissedEvents, "{event}", "Events not delivered to monitors that fell behind (recoverable by resync)");

        _meter.CreateObservableGauge("missionhub.robots.connected", () => (long)telemetry.ConnectedCount, "{robot}", "Robots with an open telemetry socket");
        _meter.CreateObservableCounter("missionhub.telemetry.frames", () => telemetry.FramesReceived, "{frame}", "Telemetry frames accepted");
        _meter.CreateObservableCounter("missionhub.telemetry.samples_written", () => telemetry.SamplesWritten, "{sample}", "Telemetry samples written to the time series");
        _meter.CreateObservableCounter("missionhub.telemetry.samples_dropped", () => telemetry.SamplesDropped, "{sample}", "Telemetry samples not stored (write backlog full or write failed)");
        _meter.CreateObservableGauge("missionhub.robot.telemetry", () =>
            telemetry.RecentRobots().SelectMany(robot => TelemetryMetricNames.Standard
                .Where(robot.Latest.ContainsKey)
                .Select(metric => new Measurement<double>(robot.Latest[metric], Tag("robot_id", robot.RobotId), Tag("metric", metric)))),
            null, "Latest telemetry of robots connected or heard from recently");

        _meter.CreateObservableCounter("missionhub.metrics.aggregation.runs", () => new[]
        {
            new Measurement<long>(aggregator.Runs - aggregator.Failures, Tag("outcome", "completed")),
            new Measurement<long>(aggregator.Failures, Tag("outcome", "failed")),
        }, "{run}", "Runs of aggregate_mission_metrics");
        _meter.CreateObservableGauge("missionhub.metrics.aggregation.duration", () => aggregator.Latest is { } latest
            ? [new Measurement<double>(latest.DurationMs / 1000.0)]
            : Array.Empty<Measurement<double>>(), "s", "Duration of the last successful aggregation");
    }

    private static KeyValuePair<string, object?> Tag(string name, object? value) => new(name, value);

    public void Dispose() => _meter.Dispose();
}
