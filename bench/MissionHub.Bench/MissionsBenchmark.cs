using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;

namespace MissionHub.Bench;

/// <summary>
/// <c>missions</c>: missions created per second and status changes per second over HTTP on loopback with
/// concurrent clients, on each backend, with event publishing on and off; the difference is what the
/// events cost per operation (issue 3).
/// </summary>
internal static class MissionsBenchmark
{
    public const string Usage = "[--backend sqlite|redis|all] [--clients 32] [--seconds 5]";

    public static async Task<int> RunAsync(string[] args)
    {
        var options = BenchArgs.Parse(args, new() { ["backend"] = "all", ["clients"] = "32", ["seconds"] = "5" });
        var clients = options.Int("clients");
        var duration = TimeSpan.FromSeconds(options.Int("seconds"));
        Console.Error.WriteLine($"missions: {clients} clients, {duration.TotalSeconds} s per phase, {Environment.ProcessorCount} cores");
        await using var redis = options.Backends.Contains("redis") ? await RedisServerProcess.StartAsync() : null;
        var rows = new List<(string Backend, bool Events, double Creates, double Changes)>();
        foreach (var backend in options.Backends)
        {
            foreach (var events in new[] { true, false })
            {
                await using var server = await HubServer.StartAsync(backend, backend == "redis" ? redis : null, new Dictionary<string, string>
                {
                    ["MissionHub__Events__PublishingEnabled"] = events ? "true" : "false",
                });
                using var http = new HttpClient { BaseAddress = server.BaseAddress };
                await CreateAsync(http, 1, TimeSpan.FromSeconds(1)); // warm-up
                var (creates, ids) = await CreateAsync(http, clients, duration);
                var changes = await ChangeStatusAsync(http, clients, duration, ids);
                Console.Error.WriteLine($"  {backend}, events {(events ? "on" : "off")}: {creates:N0} creates/s, {changes:N0} status changes/s");
                rows.Add((backend, events, creates, changes));
            }
        }

        Console.WriteLine("| backend | events | creates/s | status changes/s |");
        Console.WriteLine("| --- | --- | ---: | ---: |");
        foreach (var row in rows)
        {
            Console.WriteLine($"| {row.Backend} | {(row.Events ? "on" : "off")} | {row.Creates:N0} | {row.Changes:N0} |");
        }
        Console.WriteLine();
        Console.WriteLine("| backend | event cost per create (µs) | event cost per status change (µs) |");
        Console.WriteLine("| --- | ---: | ---: |");
        foreach (var backend in options.Backends)
        {
            var on = rows.Single(r => r.Backend == backend && r.Events);
            var off = rows.Single(r => r.Backend == backend && !r.Events);
            // Time per operation at saturation with and without events, in microseconds.
            static string Cost(double withEvents, double without) =>
                ((1_000_000 / withEvents) - (1_000_000 / without)).ToString("0.0", CultureInfo.InvariantCulture);
            Console.WriteLine($"| {backend} | {Cost(on.Creates, off.Creates)} | {Cost(on.Changes, off.Changes)} |");
        }
        return 0;
    }

    private static async Task<(double Rate, List<string> Ids)> CreateAsync(HttpClient http, int clients, TimeSpan duration)
    {
        var ids = new List<string>();
        var clock = Stopwatch.StartNew();
        var lists = await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            var mine = new List<string>();
            while (clock.Elapsed < duration)
            {
                using var response = await http.PostAsJsonAsync("/api/missions", new { name = $"bench {c}-{mine.Count}", description = "load" });
                response.EnsureSuccessStatusCode();
                mine.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
            }
            return mine;
        }));
        var elapsed = clock.Elapsed.TotalSeconds;
        foreach (var list in lists)
        {
            ids.AddRange(list);
        }
        return (ids.Count / elapsed, ids);
    }

    private static async Task<double> ChangeStatusAsync(HttpClient http, int clients, TimeSpan duration, List<string> ids)
    {
        var next = -1;
        var done = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
        {
            int index;
            while (clock.Elapsed < duration && (index = Interlocked.Increment(ref next)) < ids.Count)
            {
                using var response = await http.PostAsJsonAsync($"/api/missions/{ids[index]}/status", new { status = "RUNNING" });
                response.EnsureSuccessStatusCode();
                Interlocked.Increment(ref done);
            }
        }));
        return done / clock.Elapsed.TotalSeconds;
    }
}
