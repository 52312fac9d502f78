using MissionHub.Tests.Cluster;
using Xunit.Abstractions;

namespace MissionHub.Tests.Faults;

/// <summary>
/// Redis restarted, then stopped for 10 s, while missions are written and jobs submitted and completed: nothing
/// acknowledged is lost (Redis keeps an append-only file fsynced on every write), health goes to error and back to
/// ok by itself, and an SSE client resumes with Last-Event-ID without a gap.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class RedisOutageUnderLoadTests(ITestOutputHelper output)
{
    [Fact]
    public async Task RedisRestartedAndStoppedFor10s_UnderLoad_LosesNoAcknowledgedWrite_HealthRecovers_SseResumesWithoutGap()
    {
        await using var redis = new RedisServer(appendOnly: true);
        await redis.StartAsync();
        await using var server = FaultServer.Redis(redis.Configuration);
        await server.StartAsync();
        await server.WaitForHealthAsync("ok", TimeSpan.FromSeconds(20));
        await using var workers = new AsyncDisposables(
            new ClusterWorker(server.Address, "outage-a", 0, [FaultLoad.JobType]),
            new ClusterWorker(server.Address, "outage-b", 0, [FaultLoad.JobType]));
        await using var sse = new SseFollower(() => server.Client);
        await using var load = new FaultLoad(() => server.Client);
        await WaitForMoreAcksAsync(load, 30);

        // A restart: Redis comes back with its data (the append-only file).
        await redis.StopAsync();
        await redis.StartAsync();
        await WaitForMoreAcksAsync(load, 30);
        var afterRestart = load.ToString();

        // Stopped for 10 s: health must say error while it is down, and ok again after, without a restart of the server.
        await redis.StopAsync();
        var outage = System.Diagnostics.Stopwatch.StartNew();
        var down = await server.WaitForHealthAsync("error", TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(() => outage.Elapsed >= TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(15), "10 s of outage");
        await redis.StartAsync();
        await server.WaitForHealthAsync("ok", TimeSpan.FromSeconds(30));
        await WaitForMoreAcksAsync(load, 30);

        load.Pause();
        await load.WaitUntilPausedAsync(TimeSpan.FromSeconds(15));
        var seqBeforeCheck = (await server.Client.GetJsonAsync("/api/events?limit=1")).GetProperty("last_seq").GetInt64();
        await Eventually.TrueAsync(() => sse.LastSeq >= seqBeforeCheck, TimeSpan.FromSeconds(20), $"the SSE client to reach seq {seqBeforeCheck} ({sse})");
        var report = await ConsistencyCheck.RunAsync(server.Client, TimeSpan.FromSeconds(15));
        var lost = load.FindLost(await RestView.ReadAsync(server.Client));

        output.WriteLine($"after the restart: {afterRestart}");
        output.WriteLine($"in all: {load}");
        output.WriteLine($"health while stopped: {down.GetProperty("checks").GetProperty("storage").GetProperty("detail").GetString()}");
        output.WriteLine(sse.ToString());
        output.WriteLine($"consistency: {report}");
        output.WriteLine($"lost: {lost.Count}");
        Assert.True(lost.Count == 0, $"acknowledged writes lost:\n{string.Join('\n', lost.Take(20))}\n{server.Diagnostics()}");
        Assert.True(sse.Gaps.Count == 0, $"the SSE client saw gaps: {string.Join("; ", sse.Gaps.Take(10))}");
        Assert.Equal(0, sse.Resets); // Redis kept its log: nothing to be told about
        // The stream may stay open through the outage (the server resumes reading the log) or be reconnected with
        // Last-Event-ID; either way the seqs it saw follow on without a gap (asserted above).
        Assert.True(report.JobMismatches.Count == 0, $"jobs: {report}");
        Assert.True(report.MissionMismatches.Count == 0, $"missions: {report}");
    }

    /// <summary>Waits until <paramref name="count"/> more writes have been acknowledged: the load is really running.</summary>
    internal static async Task WaitForMoreAcksAsync(FaultLoad load, int count)
    {
        var target = load.Acknowledged + count;
        await Eventually.TrueAsync(() => load.Acknowledged >= target, TimeSpan.FromSeconds(45), $"{count} more acknowledged writes ({load})");
    }
}

/// <summary>Disposes several things together (workers), in reverse order.</summary>
internal sealed class AsyncDisposables(params IAsyncDisposable[] items) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        foreach (var item in items.Reverse())
        {
            await item.DisposeAsync();
        }
    }
}
