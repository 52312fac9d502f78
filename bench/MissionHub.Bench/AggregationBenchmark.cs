using MissionHub;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MissionHub.Agents;
using MissionHub.Events;
using MissionHub.Hub;
using MissionHub.Metrics;
using MissionHub.Missions;
using MissionHub.Monitor;
using MissionHub.Storage;
using MissionHub.Storage.Redis;
using MissionHub.Storage.Sqlite;
using MissionHub.Supervisor;
using MissionHub.Telemetry;

namespace MissionHub.Bench;

/// <summary>
/// <c>aggregation</c>: run time of <c>aggregate_mission_metrics</c> (<see cref="MissionMetricsAggregator.RunOnceAsync"/>)
/// with N missions stored (issue 7). The missions are seeded first (SQLite: raw inserts in one transaction; Redis: through
/// the store), spread over the last <c>--hours</c> hours (23 by default: every mission is inside the job's 24 h picture, the
/// worst case). Then the server's own services are built in this process exactly as <c>Program.cs</c> wires them (no HTTP
/// endpoints; the timer's start-up run is off) and the benchmark times: the first run (it seeds its picture from the last
/// 24 h), a run with nothing changed, and <c>--runs</c> steady-state runs each after <c>--changes</c> PENDING missions were
/// moved to RUNNING through the store.
/// </summary>
internal static class AggregationBenchmark
{
    public const string Usage = "[--backend sqlite|redis|all] [--missions 100000] [--changes 1000] [--runs 5] [--hours 23]";

    public static async Task<int> RunAsync(string[] args)
    {
        var options = BenchArgs.Parse(args, new()
        {
            ["backend"] = "sqlite", ["missions"] = "100000", ["changes"] = "1000", ["runs"] = "5", ["hours"] = "23",
        });
        var missions = options.Int("missions");
        var changes = options.Int("changes");
        var runs = options.Int("runs");
        var hours = options.Int("hours");
        Console.Error.WriteLine(
            $"aggregation: {missions:N0} missions over the last {hours} h, {runs} steady runs after {changes:N0} changes each, {Environment.ProcessorCount} cores");
        var results = new List<AggregationResult>();
        foreach (var backend in options.Backends)
        {
            var end = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 - 60;
            var timeline = MissionSeeder.Spread(missions, hours, end);
            if (backend == "sqlite")
            {
                var folder = Directory.CreateTempSubdirectory("missionhub-bench-aggregation-").FullName;
                try
                {
                    var path = Path.Combine(folder, "missionhub.db");
                    var storage = new StorageOptions { Provider = StorageOptions.SqliteProvider, Sqlite = { Path = path } };
                    await MissionSeeder.SeedSqliteBulkAsync(new SqliteDatabase(Options.Create(storage)), missions, timeline);
                    SqliteConnection.ClearAllPools();
                    results.Add(await MeasureAsync(backend, missions, changes, runs, new()
                    {
                        ["MissionHub:Storage:Provider"] = "sqlite",
                        ["MissionHub:Storage:Sqlite:Path"] = path,
                    }));
                    SqliteConnection.ClearAllPools();
                }
                finally
                {
                    Directory.Delete(folder, recursive: true);
                }
            }
            else
            {
                await using var redis = await RedisServerProcess.StartAsync();
                var prefix = $"bench:{Guid.NewGuid():N}:";
                var storage = Options.Create(new StorageOptions
                {
                    Provider = StorageOptions.RedisProvider,
                    Redis = { Configuration = redis.Configuration, KeyPrefix = prefix },
                });
                await using (var connection = new RedisConnection(storage, NullLogger<RedisConnection>.Instance))
                {
                    await using var seeding = await SeedingMissionStore.OpenRedisAsync(connection, storage);
                    await MissionSeeder.SeedThroughStoreAsync("redis", seeding.Store, missions, writers: 64, timeline);
                }
                results.Add(await MeasureAsync(backend, missions, changes, runs, new()
                {
                    ["MissionHub:Storage:Provider"] = "redis",
                    ["MissionHub:Storage:Redis:Configuration"] = redis.Configuration,
                    ["MissionHub:Storage:Redis:KeyPrefix"] = prefix,
                }));
            }
        }
        Console.WriteLine(FormatReport(missions, hours, changes, runs, results));
        return 0;
    }

    private static async Task<AggregationResult> MeasureAsync(string backend, int missions, int changes, int runs, Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            EnvironmentName = "Production",
            ContentRootPath = AppContext.BaseDirectory,
        });
        settings["MissionHub:Metrics:AggregateAtStart"] = "false";
        settings["MissionHub:Metrics:AggregationInterval"] = "01:00:00"; // only the benchmark's own calls run
        settings["Logging:LogLevel:Default"] = "Warning";
        settings["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning";
        builder.Configuration.AddInMemoryCollection(settings);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.AddMissionHub();
        await using var app = builder.Build();
        await app.StartAsync();
        try
        {
            var aggregator = app.Services.GetRequiredService<MissionMetricsAggregator>();
            var store = app.Services.GetRequiredService<IMissionStore>();

            var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
            var first = await TimeRunAsync(aggregator);
            var heapAfter = GC.GetTotalMemory(forceFullCollection: true);
            if (aggregator.Latest is not { } seeded || seeded.Total != missions)
            {
                throw new InvalidOperationException($"the first run counted {aggregator.Latest?.Total} missions, expected {missions}");
            }
            Console.Error.WriteLine($"  {backend}: first run {first.Millis:N1} ms, {first.Processed:N0} entries; picture {(heapAfter - heapBefore) / 1e6:N0} MB of heap");

            var idle = await TimeRunAsync(aggregator);
            Console.Error.WriteLine($"  {backend}: run with nothing changed {idle.Millis:N1} ms, {idle.Processed:N0} entries");

            var next = 0;
            var steady = new List<Run>();
            // Each run re-reads ChangeOverlap (5 s) before its last position. Back to back, runs would re-read every earlier
            // batch; in production runs are 30 s apart. Waiting the overlap between batches bounds the re-read to one batch.
            var overlap = app.Services.GetRequiredService<IOptions<MetricsOptions>>().Value.ChangeOverlap;
            for (var r = 0; r < runs; r++)
            {
                if (r > 0)
                {
                    await Task.Delay(overlap + TimeSpan.FromMilliseconds(100));
                }
                for (var moved = 0; moved < changes; next++)
                {
                    if (next >= missions)
                    {
                        throw new InvalidOperationException("not enough PENDING missions left to change; use more --missions or fewer --changes/--runs");
                    }
                    if (!MissionSeeder.EndsPending(next))
                    {
                        continue;
                    }
                    var at = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
                    var change = await store.ChangeStatusAsync(MissionSeeder.Id(next), MissionStatus.Running, at, CancellationToken.None);
                    if (change.Outcome != StatusChangeOutcome.Changed)
                    {
                        throw new InvalidOperationException($"mission {MissionSeeder.Id(next)}: {change.Outcome}");
                    }
                    moved++;
                }
                var run = await TimeRunAsync(aggregator);
                Console.Error.WriteLine($"  {backend}: steady run {r + 1} {run.Millis:N1} ms, {run.Processed:N0} entries");
                steady.Add(run);
            }
            var expectedRunning = MissionSeeder.Expected(missions, b => b < 10) + (long)changes * runs;
            if (aggregator.Latest!.ByStatus.GetValueOrDefault("RUNNING") != expectedRunning)
            {
                throw new InvalidOperationException($"RUNNING is {aggregator.Latest.ByStatus.GetValueOrDefault("RUNNING")}, expected {expectedRunning}");
            }
            var sorted = steady.Select(s => s.Millis).Order().ToList();
            return new AggregationResult(backend, first, idle, sorted[sorted.Count / 2], sorted[^1], (long)steady.Average(s => s.Processed),
                (heapAfter - heapBefore) / 1e6);
        }
        finally
        {
            await app.StopAsync();
        }
    }

    private static async Task<Run> TimeRunAsync(MissionMetricsAggregator aggregator)
    {
        var timer = Stopwatch.StartNew();
        if (!await aggregator.RunOnceAsync(CancellationToken.None))
        {
            throw new InvalidOperationException($"the aggregation run failed: {aggregator.Describe().LastRun?.ErrorMessage}");
        }
        return new Run(timer.Elapsed.TotalMilliseconds, aggregator.Latest!.EntriesProcessed);
    }

    private static string FormatReport(int missions, int hours, int changes, int runs, IReadOnlyList<AggregationResult> results)
    {
        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture,
            $"aggregate_mission_metrics with {missions:N0} missions stored, spread over the last {hours} h; steady = median (max) of {runs} runs after {changes:N0} changes each");
        report.AppendLine();
        report.AppendLine("| backend | missions | first run ms (entries) | nothing changed ms | steady ms, median (max) | steady entries | picture MB |");
        report.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
        {
            report.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Backend} | {missions:N0} | {r.First.Millis:N0} ({r.First.Processed:N0}) | {r.Idle.Millis:N1} | {r.SteadyMedian:N1} ({r.SteadyMax:N1}) | {r.SteadyProcessed:N0} | {r.PictureMb:N0} |");
        }
        return report.ToString();
    }

    private sealed record Run(double Millis, long Processed);

    private sealed record AggregationResult(string Backend, Run First, Run Idle, double SteadyMedian, double SteadyMax, long SteadyProcessed, double PictureMb);
}
