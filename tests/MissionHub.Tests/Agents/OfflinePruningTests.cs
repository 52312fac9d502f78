using System.Text.Json;
using MissionHub.Hub;
using MissionHub.Tests.Cluster;
using Xunit.Abstractions;

namespace MissionHub.Tests.Agents;

/// <summary>
/// DESIGN §9 against clients that come and go under ever new ids: workers and robots offline for longer than
/// <c>OfflineRetention</c> are forgotten by storage (both backends), the monitor read model and the robot registry, so
/// memory follows the agents of the retention period; a worker connected throughout keeps working, and a pruned id
/// that comes back simply registers anew.
/// </summary>
public abstract class OfflinePruningTests(ITestOutputHelper output) : IDisposable
{
    private const int Parallel = 8;
    private const long HeapBoundMiB = 128;

    protected TempFolder Folder { get; } = new();

    protected abstract MissionHubFactory CreateFactory(IDictionary<string, string?> settings);

    public void Dispose()
    {
        Folder.Dispose();
        GC.SuppressFinalize(this);
    }

    protected async Task DistinctWorkersRegisteringAndLeaving_ArePrunedAfterTheRetention(int workers)
    {
        await using var factory = CreateFactory(new Dictionary<string, string?> { ["MissionHub:Agents:OfflineRetention"] = "00:00:02" });
        using var client = factory.CreateClient();
        var store = factory.Services.GetRequiredService<IJobStore>();
        await using var stayer = await RawWorker.RegisterAsync(factory, "stayer", ["steady"]);
        stayer.StartHeartbeats(TimeSpan.FromSeconds(1));

        var heap = new ManagedHeap();
        var next = -1;
        var stored = 0;
        await Task.WhenAll(Enumerable.Range(0, Parallel).Select(_ => Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < workers; i = Interlocked.Increment(ref next))
            {
                await using var worker = await RawWorker.RegisterAsync(factory, $"passer-{i:D6}", ["steady"]);
                if (i % 5_000 == 4_999)
                {
                    lock (heap)
                    {
                        heap.Sample();
                    }
                }
            }
        })));
        for (var i = 0; i < 20; i++)
        {
            await using var robot = await RawWorker.ConnectAsync(factory, $"/api/telemetry/ws/passing-robot-{i}");
            await robot.SendAsync(new { cpu_usage = 10.0 + i });
            await Eventually.TrueAsync(async () => await HasRobotAsync(client, $"passing-robot-{i}"), TimeSpan.FromSeconds(10), "the robot to be seen");
        }
        heap.Sample();

        await Eventually.TrueAsync(async () => (stored = (await store.ListWorkersAsync()).Count) == 1, TimeSpan.FromSeconds(120),
            "storage to keep only the worker still connected");
        await Eventually.TrueAsync(async () => WorkerIds(await SnapshotAsync(factory)).SequenceEqual(new[] { "stayer" }), TimeSpan.FromSeconds(30),
            "the monitor snapshot to list only the worker still connected");
        await Eventually.TrueAsync(async () => !await HasRobotAsync(client, "passing-robot-0"), TimeSpan.FromSeconds(30),
            "the robots that left to be forgotten");
        heap.Sample();
        output.WriteLine($"{workers} distinct workers registered and left: managed heap grew at most {heap.MaxGrowthMiB} MiB; " +
            $"{stored} stored after the retention");
        Assert.True(heap.MaxGrowthMiB < HeapBoundMiB, $"the managed heap grew {heap.MaxGrowthMiB} MiB (bound {HeapBoundMiB} MiB)");
        var listed = await client.GetJsonAsync("/api/supervisor/agents");
        Assert.Equal(new[] { "stayer" }, listed.EnumerateArray().Select(a => a.GetProperty("id").GetString()));

        // The worker connected throughout is unaffected: listed idle, and it gets work.
        using (var submitted = await client.PostAsync("/api/jobs", JsonContent("""{"job_type":"steady"}""")))
        {
            submitted.EnsureSuccessStatusCode();
        }
        var job = await stayer.ReceiveJobAsync();
        await stayer.CompleteAsync(job.GetProperty("id").GetString()!, new { ok = true });

        // A pruned id that comes back registers anew.
        await using var back = await RawWorker.RegisterAsync(factory, "passer-000000", ["steady"]);
        await Eventually.TrueAsync(async () => (await store.ListWorkersAsync()).Any(w => w.Id == "passer-000000" && w.Status == WorkerStatus.Idle),
            TimeSpan.FromSeconds(10), "the returning worker to be stored again");
        await Eventually.TrueAsync(async () => WorkerIds(await SnapshotAsync(factory)).Contains("passer-000000"), TimeSpan.FromSeconds(10),
            "the returning worker in the snapshot");
    }

    private static StringContent JsonContent(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    private static async Task<bool> HasRobotAsync(HttpClient client, string robotId) =>
        (await client.GetJsonAsync("/api/telemetry/robots")).GetProperty("robots").EnumerateArray()
            .Any(r => r.GetProperty("robot_id").GetString() == robotId);

    private static async Task<JsonElement> SnapshotAsync(MissionHubFactory factory)
    {
        await using var monitor = await RawWorker.ConnectAsync(factory, "/ws/monitor");
        await monitor.SendAsync(new { type = "monitor_connect", monitor_id = "pruning", request_full_state = true, timestamp = 0 });
        return await monitor.ReceiveTypeAsync("full_state_snapshot", TimeSpan.FromSeconds(30));
    }

    private static List<string> WorkerIds(JsonElement snapshot) =>
        [.. snapshot.GetProperty("data").GetProperty("workers").EnumerateObject().Select(w => w.Name).Order(StringComparer.Ordinal)];
}

[Collection(HeapBoundCollection.Name)]
public sealed class SqliteOfflinePruningTests(ITestOutputHelper output) : OfflinePruningTests(output)
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("pruning.db"), settings);

    [Fact]
    public Task FiveHundredDistinctWorkers_ArePrunedAfterTheRetention() => DistinctWorkersRegisteringAndLeaving_ArePrunedAfterTheRetention(500);

    [SoakFact("100,000 distinct worker ids registering and leaving (SQLite)")]
    public Task HundredThousandDistinctWorkers_ArePrunedAfterTheRetention() => DistinctWorkersRegisteringAndLeaving_ArePrunedAfterTheRetention(100_000);
}

[Collection(HeapBoundCollection.Name)]
public sealed class RedisOfflinePruningTests(RedisServerFixture redis, ITestOutputHelper output) : OfflinePruningTests(output), IClassFixture<RedisServerFixture>
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, extra: settings);

    [Fact]
    public Task FiveHundredDistinctWorkers_ArePrunedAfterTheRetention() => DistinctWorkersRegisteringAndLeaving_ArePrunedAfterTheRetention(500);

    [SoakFact("100,000 distinct worker ids registering and leaving (Redis)")]
    public Task HundredThousandDistinctWorkers_ArePrunedAfterTheRetention() => DistinctWorkersRegisteringAndLeaving_ArePrunedAfterTheRetention(100_000);
}
