using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using HdrHistogram;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MissionHub.Missions;
using MissionHub.Storage;
using MissionHub.Storage.Redis;
using MissionHub.Storage.Sqlite;

namespace MissionHub.Bench;

/// <summary>
/// <c>supervisor-status</c>: requests per second and latency of <c>GET /api/supervisor/status</c> on loopback,
/// served by the real server (its own process, production settings) over a store already holding N missions
/// (issue 5). Missions are seeded through the mission store directly, before the server starts.
/// </summary>
internal static class SupervisorStatusBenchmark
{
    public const string Usage = "[--missions N] [--clients 1,16,64] [--seconds S] [--backend sqlite|redis|all]";

    private static readonly Uri StatusUri = new("/api/supervisor/status", UriKind.Relative);

    public static async Task<int> RunAsync(string[] args)
    {
        var settings = StatusSettings.Parse(args);
        Console.Error.WriteLine(
            $"supervisor-status: {settings.Missions:N0} missions, clients {string.Join(",", settings.Clients)}, " +
            $"{settings.Seconds} s per run, {Environment.ProcessorCount} cores");
        var results = new List<StatusResult>();
        if (settings.Sqlite)
        {
            var folder = Directory.CreateTempSubdirectory("missionhub-bench-status-").FullName;
            try
            {
                var path = Path.Combine(folder, "missionhub.db");
                var storage = new StorageOptions { Provider = StorageOptions.SqliteProvider, Sqlite = { Path = path, Synchronous = "normal" } };
                using (var database = new SqliteDatabase(Options.Create(storage)))
                {
                    await using var seeding = await SeedingMissionStore.OpenSqliteAsync(database);
                    await MissionSeeder.SeedThroughStoreAsync("sqlite", seeding.Store, settings.Missions, writers: 4);
                }
                SqliteConnection.ClearAllPools();
                results.AddRange(await MeasureServerAsync("sqlite", settings, new Dictionary<string, string>
                {
                    ["MissionHub__Storage__Provider"] = "sqlite",
                    ["MissionHub__Storage__Sqlite__Path"] = path,
                }));
            }
            finally
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        if (settings.Redis)
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
                await MissionSeeder.SeedThroughStoreAsync("redis", seeding.Store, settings.Missions, writers: 64);
            }
            results.AddRange(await MeasureServerAsync("redis", settings, new Dictionary<string, string>
            {
                ["MissionHub__Storage__Provider"] = "redis",
                ["MissionHub__Storage__Redis__Configuration"] = redis.Configuration,
                ["MissionHub__Storage__Redis__KeyPrefix"] = prefix,
            }));
        }
        Console.WriteLine(FormatReport(settings, results));
        return 0;
    }

    private static async Task<List<StatusResult>> MeasureServerAsync(string backend, StatusSettings settings, Dictionary<string, string> environment)
    {
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "MissionHub.dll"), "--urls", $"http://127.0.0.1:{port}" },
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        using var server = Process.Start(start) ?? throw new InvalidOperationException("could not start the server");
        var errors = new StringBuilder();
        server.OutputDataReceived += (_, _) => { };
        server.ErrorDataReceived += (_, e) => { lock (errors) { errors.AppendLine(e.Data); } };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = settings.Clients.Max(), PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
            using var client = new HttpClient(handler) { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
            await WaitUntilReadyAsync(client, server, errors);
            await CheckCountsAsync(client, settings.Missions);

            var results = new List<StatusResult>();
            foreach (var clients in settings.Clients)
            {
                await HttpLoad.RunAsync(client, StatusUri, clients, TimeSpan.FromSeconds(Math.Min(2, settings.Seconds)));
                var (requests, elapsed, latency) = await HttpLoad.RunAsync(client, StatusUri, clients, TimeSpan.FromSeconds(settings.Seconds));
                var result = new StatusResult(backend, clients, requests / elapsed.TotalSeconds,
                    HttpLoad.TicksToMicros(latency.GetValueAtPercentile(50)), HttpLoad.TicksToMicros(latency.GetValueAtPercentile(99)));
                Console.Error.WriteLine($"  {backend} x{clients}: {result.RequestsPerSecond:N0} requests/s, p50 {result.P50Micros:N0} µs, p99 {result.P99Micros:N0} µs");
                results.Add(result);
            }
            return results;
        }
        finally
        {
            if (!server.HasExited)
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync();
            }
        }
    }

    private static async Task CheckCountsAsync(HttpClient client, int missions)
    {
        using var status = JsonDocument.Parse(await client.GetStringAsync(new Uri("/api/supervisor/status", UriKind.Relative)));
        var root = status.RootElement;
        (string Field, long Expected)[] expected =
        [
            ("total_missions", missions), // the seeded set: see MissionSeeder.PathFor
            ("running_missions", MissionSeeder.Expected(missions, b => b < 10)),
            ("completed_missions", MissionSeeder.Expected(missions, b => b is >= 10 and < 15)),
            ("failed_missions", MissionSeeder.Expected(missions, b => b is >= 15 and < 17)),
            ("cancelled_missions", MissionSeeder.Expected(missions, b => b == 17)),
            ("pending_missions", MissionSeeder.Expected(missions, b => b >= 18)),
        ];
        foreach (var (field, count) in expected)
        {
            var answered = root.GetProperty(field).GetInt64();
            if (answered != count)
            {
                throw new InvalidOperationException($"/api/supervisor/status answered {field} {answered}, expected {count}");
            }
        }
    }

    private static async Task WaitUntilReadyAsync(HttpClient client, Process server, StringBuilder errors)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (server.HasExited)
            {
                throw new InvalidOperationException($"the server exited with {server.ExitCode}: {errors}");
            }
            try
            {
                using var response = await client.GetAsync(new Uri("/api/health", UriKind.Relative));
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException("the server did not answer /api/health within 60 s");
    }

    private static string FormatReport(StatusSettings settings, IReadOnlyList<StatusResult> results)
    {
        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"GET /api/supervisor/status with {settings.Missions:N0} missions stored, {settings.Seconds} s per run");
        report.AppendLine();
        report.AppendLine("| backend | clients | requests/s | p50 µs | p99 µs |");
        report.AppendLine("| --- | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"| {r.Backend} | {r.Clients} | {r.RequestsPerSecond:N0} | {r.P50Micros:N0} | {r.P99Micros:N0} |");
        }
        return report.ToString();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed record StatusResult(string Backend, int Clients, double RequestsPerSecond, double P50Micros, double P99Micros);
}

internal sealed record StatusSettings(int Missions, IReadOnlyList<int> Clients, int Seconds, bool Sqlite, bool Redis)
{
    public static StatusSettings Parse(IReadOnlyList<string> args)
    {
        var options = BenchArgs.Parse([.. args], new() { ["missions"] = "100000", ["clients"] = "1,16,64", ["seconds"] = "10", ["backend"] = "all" });
        var backends = options.Backends;
        return new StatusSettings(options.Int("missions"), options.IntList("clients"), options.Int("seconds"),
            Sqlite: backends.Contains("sqlite"), Redis: backends.Contains("redis"));
    }
}
