using MissionHub.Bench;

// dotnet run -c Release --project bench/MissionHub.Bench -- <benchmark> [options]
// Each benchmark is a sub-command with its own options; add new ones to the table below.
var benchmarks = new Dictionary<string, (string Usage, Func<string[], Task<int>> Run)>(StringComparer.OrdinalIgnoreCase)
{
    ["aggregation"] = (AggregationBenchmark.Usage, AggregationBenchmark.RunAsync),
    ["cluster"] = (ClusterBenchmark.Usage, ClusterBenchmark.RunAsync),
    ["auth"] = (AuthBenchmark.Usage, AuthBenchmark.RunAsync),
    ["eventlog"] = (EventLogBenchmark.Usage, EventLogBenchmark.RunAsync),
    ["hub"] = (HubBenchmark.Usage, HubBenchmark.RunAsync),
    ["metrics-published"] = (MetricsPublishedBenchmark.Usage, MetricsPublishedBenchmark.RunAsync),
    ["missions"] = (MissionsBenchmark.Usage, MissionsBenchmark.RunAsync),
    ["monitor"] = (MonitorBenchmark.Usage, MonitorBenchmark.RunAsync),
    ["state"] = (StateBenchmark.Usage, StateBenchmark.RunAsync),
    ["supervisor-status"] = (SupervisorStatusBenchmark.Usage, SupervisorStatusBenchmark.RunAsync),
    ["telemetry"] = (TelemetryBenchmark.Usage, TelemetryBenchmark.RunAsync),
    ["timing"] = (TimingBenchmark.Usage, TimingBenchmark.RunAsync),
};

if (args.Length == 0 || !benchmarks.TryGetValue(args[0], out var benchmark))
{
    Console.Error.WriteLine(args.Length == 0 ? "No benchmark named." : $"Unknown benchmark '{args[0]}'.");
    Console.Error.WriteLine("Usage: dotnet run -c Release --project bench/MissionHub.Bench -- <benchmark> [options]");
    foreach (var (name, entry) in benchmarks)
    {
        Console.Error.WriteLine($"  {name,-18} {entry.Usage}");
    }
    return 2;
}

try
{
    return await benchmark.Run(args[1..]);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    Console.Error.WriteLine($"Usage: {args[0]} {benchmark.Usage}");
    return 2;
}
