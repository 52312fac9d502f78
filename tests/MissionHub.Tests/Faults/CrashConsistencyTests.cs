using System.Globalization;
using MissionHub.Tests.Cluster;
using Xunit.Abstractions;

namespace MissionHub.Tests.Faults;

/// <summary>
/// SIGKILL of the server at random moments under a load of mission status changes and job transitions (workers
/// completing jobs throughout). After each restart: every acknowledged write is there, and the state rebuilt from
/// the event log equals the REST API's, exactly (<see cref="ConsistencyCheck"/>), on both backends.
/// The default suite kills a few times; <c>MISSIONHUB_SOAK=1</c> kills 25 times per backend.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class CrashConsistencyTests(ITestOutputHelper output)
{
    private const int ShortKills = 4;
    private const int SoakKills = 25;

    [Fact]
    public Task Sqlite_KilledAtRandomMoments_KeepsEveryAcknowledgedWrite_AndEventsEqualTheRestApi()
    {
        using var folder = new TempFolder();
        return RunAsync(FaultServer.Sqlite(folder.File("crash.db")), ShortKills, seed: 1);
    }

    [Fact]
    public async Task Redis_KilledAtRandomMoments_KeepsEveryAcknowledgedWrite_AndEventsEqualTheRestApi()
    {
        await using var redis = await RedisServer.StartNewAsync();
        await RunAsync(FaultServer.Redis(redis.Configuration), ShortKills, seed: 2);
    }

    [SoakFact]
    public Task Soak_Sqlite_25Kills_KeepsEveryAcknowledgedWrite_AndEventsEqualTheRestApi()
    {
        using var folder = new TempFolder();
        return RunAsync(FaultServer.Sqlite(folder.File("crash.db")), SoakKills, seed: 3);
    }

    [SoakFact]
    public async Task Soak_Redis_25Kills_KeepsEveryAcknowledgedWrite_AndEventsEqualTheRestApi()
    {
        await using var redis = await RedisServer.StartNewAsync();
        await RunAsync(FaultServer.Redis(redis.Configuration), SoakKills, seed: 4);
    }

    private async Task RunAsync(FaultServer server, int kills, int seed)
    {
        await using var _ = server;
        var random = new Random(seed);
        await server.StartAsync();
        await using var workers = new AsyncDisposables(
            new ClusterWorker(server.Address, $"crash-a-{seed}", 0, [FaultLoad.JobType]),
            new ClusterWorker(server.Address, $"crash-b-{seed}", 0, [FaultLoad.JobType]));
        await using var load = new FaultLoad(() => server.Client);
        var failures = new List<string>();
        var missionMismatchKills = 0;
        for (var kill = 1; kill <= kills; kill++)
        {
            // A random moment: after a random number of further acknowledged writes, with writes in flight.
            await RedisOutageUnderLoadTests.WaitForMoreAcksAsync(load, random.Next(3, 60));
            await server.KillAsync();
            await server.StartAsync();

            load.Pause();
            await load.WaitUntilPausedAsync(TimeSpan.FromSeconds(20));
            var rest = await RestView.ReadAsync(server.Client);
            var lost = load.FindLost(rest);
            var report = await ConsistencyCheck.RunAsync(server.Client, TimeSpan.FromSeconds(10));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"kill {kill}: {load}; lost {lost.Count}; {report}"));
            if (lost.Count > 0)
            {
                failures.Add($"kill {kill}: acknowledged writes lost:\n  {string.Join("\n  ", lost.Take(10))}");
            }
            if (report.JobMismatches.Count > 0)
            {
                failures.Add($"kill {kill}: jobs differ between events and REST: {report}");
            }
            if (report.MissionMismatches.Count > 0)
            {
                missionMismatchKills++;
                failures.Add($"kill {kill}: missions differ between events and REST (a mission change without its event): {report}");
            }
            load.Resume();
        }
        output.WriteLine($"{kills} kills; {missionMismatchKills} left missions inconsistent");
        Assert.True(failures.Count == 0, string.Join("\n", failures) + "\n" + server.Diagnostics());
    }
}
