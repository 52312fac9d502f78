using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit.Abstractions;

namespace MissionHub.Tests.Cluster;

/// <summary>
/// A schedule is the hub's, not a process's: three processes on one Redis each run a schedule runner, and an
/// every-second schedule fires every tick exactly once between them, from the event log's <c>schedule_fired</c> per
/// tick. The process that fired the latest tick is killed with kill -9 mid-run: the others take over without doubling
/// or dropping a tick.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterScheduleTests(ClusterFixture fixture, ITestOutputHelper output) : IClassFixture<ClusterFixture>
{
    [Fact]
    public async Task EverySecondSchedule_OnThreeProcesses_FiresEachTickOnce_AcrossAKillOfTheProcessThatFiredLast() =>
        await RunAsync(seconds: 6);

    [SoakFact("30 s of an every-second schedule on three processes, one kill -9")]
    public async Task Soak_ThirtySeconds_ThirtyTicks_EachOnce() => await RunAsync(seconds: 30);

    private async Task RunAsync(int seconds)
    {
        await using var cluster = await fixture.StartClusterAsync(3);
        double first;
        using (var created = await cluster.Client(0).PostAsJsonAsync("/api/schedules",
            new { id = "every-second", cron = "* * * * * *", job = new { job_type = "cluster-tick" } }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            // The first tick as created: read later, a tick may already have fired and moved next_run_at on.
            first = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("next_run_at").GetDouble();
        }
        var last = first + seconds - 1;

        // Halfway, the process that fired the latest tick is killed.
        var halfway = await WaitForTicksAsync(cluster, first, seconds / 2);
        var firedBy = halfway.MaxBy(e => Tick(e)).GetProperty("payload").GetProperty("node_id").GetString()!;
        var victim = Enumerable.Range(0, cluster.Count).Single(i => firedBy.Contains($"-{cluster[i].ProcessId}-", StringComparison.Ordinal));
        await cluster.KillAsync(victim);
        output.WriteLine($"killed process {victim} ({firedBy}), which fired tick {Tick(halfway.MaxBy(Tick)) - first:0} of {seconds}");

        var fired = await WaitForTicksAsync(cluster, first, seconds);
        using (var paused = await cluster.LiveClient(0).PostAsync(new Uri("/api/schedules/every-second/pause", UriKind.Relative), null))
        {
            Assert.Equal(HttpStatusCode.OK, paused.StatusCode);
        }
        fired = await ReadFiredAsync(cluster);

        var ticks = fired.Select(Tick).Where(t => t <= last).ToList();
        var doubled = ticks.GroupBy(t => t).Where(g => g.Count() > 1).Select(g => g.Key - first).ToList();
        Assert.True(doubled.Count == 0, $"ticks fired twice: {string.Join(", ", doubled)}");
        var expected = Enumerable.Range(0, seconds).Select(k => first + k).ToList();
        Assert.Equal(expected, ticks.Order());
        Assert.Empty(await cluster.LiveClient(0).ReadEventsAsync("schedule_skipped"));

        // One job per fired tick, each with the schedule's id, and every fired job stored once.
        var jobIds = fired.Select(e => e.GetProperty("payload").GetProperty("job_id").GetString()!).ToList();
        Assert.Equal(jobIds.Count, jobIds.Distinct().Count());
        var submitted = (await cluster.LiveClient(0).ReadEventsAsync("job_submitted"))
            .Where(e => e.GetProperty("payload").GetProperty("job_data").GetProperty("schedule_id").GetString() == "every-second")
            .Select(e => e.PayloadString("job_id")!)
            .ToList();
        Assert.Equal(jobIds.Order(StringComparer.Ordinal), submitted.Order(StringComparer.Ordinal));
        var byNode = fired.GroupBy(e => e.GetProperty("payload").GetProperty("node_id").GetString()).Select(g => $"{g.Key}={g.Count()}");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{fired.Count} ticks fired, by process: {string.Join(", ", byNode)}"));
    }

    private static double Tick(JsonElement fired) => fired.GetProperty("payload").GetProperty("tick").GetDouble();

    private static async Task<List<JsonElement>> ReadFiredAsync(ServerCluster cluster) =>
        [.. (await cluster.LiveClient(0).ReadEventsAsync("schedule_fired")).Where(e => e.PayloadString("trigger") == "cron")];

    private static async Task<List<JsonElement>> WaitForTicksAsync(ServerCluster cluster, double first, int count)
    {
        List<JsonElement> fired = [];
        // Until the count-th tick fired: a tick dropped before it shows as a gap in the assertion, not as a wait.
        await Eventually.TrueAsync(async () => (fired = await ReadFiredAsync(cluster)).Any(e => Tick(e) >= first + count - 1),
            TimeSpan.FromSeconds(count + 20), $"tick {count} to fire");
        return fired;
    }
}
