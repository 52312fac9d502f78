using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using MissionHub.Tests.Cluster;
using Xunit.Abstractions;

namespace MissionHub.Tests.Faults;

/// <summary>
/// The SQLite store runs out of room while the server is under load: writes are refused (503 naming the cause), health
/// says <c>error</c>, then room returns and the next writes succeed without a restart. Nothing acknowledged is lost,
/// nothing is half-written. Two ways to run out of room: the data directory on a small tmpfs this test mounts (a filler
/// file takes all but a little of it, deleted afterwards), or, where mounting is not allowed, a file-size limit set on
/// the running server (<c>prlimit --fsize</c>, its SIGXFSZ ignored so writes fail with EFBIG), lifted afterwards.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class DiskFullTests(ITestOutputHelper output)
{
    private const int FilesystemMiB = 16;
    private const int LeftFreeKiB = 384;

    [Fact]
    public async Task DiskFull_WritesRefusedWith503NamingIt_HealthError_ThenSpaceReturns_AndNothingAcknowledgedIsLostOrHalfWritten()
    {
        using var folder = new TempFolder();
        var mount = Path.Combine(folder.Path, "small");
        Directory.CreateDirectory(mount);
        var mounted = Run("mount", $"-t tmpfs -o size={FilesystemMiB}m tmpfs {mount}");
        if (mounted.Code != 0)
        {
            output.WriteLine($"disk-full mechanism: file-size limit (this machine does not allow mounting a tmpfs: {mounted.Output.Trim()})");
            await RunWithFileSizeLimitAsync(folder.Path);
            return;
        }
        output.WriteLine($"disk-full mechanism: tmpfs of {FilesystemMiB} MiB mounted at {mount}");
        try
        {
            await using var server = FaultServer.Sqlite(Path.Combine(mount, "missionhub.db"));
            var filler = Path.Combine(mount, "filler");
            await RunAsync(server, fill: () => Fill(mount, filler), makeRoom: () => File.Delete(filler), ["disk full (SQLITE_FULL)"]);
        }
        finally
        {
            Run("umount", $"-l {mount}");
        }
    }

    /// <summary>The fallback mechanism, run here too so that it is known to work where it is needed.</summary>
    [Fact]
    public async Task FileSizeLimit_WritesRefusedWith503NamingIt_HealthError_ThenTheLimitIsLifted_AndNothingAcknowledgedIsLostOrHalfWritten()
    {
        using var folder = new TempFolder();
        output.WriteLine("disk-full mechanism: file-size limit (prlimit --fsize, the soft limit, on the running server)");
        await RunWithFileSizeLimitAsync(folder.Path);
    }

    private async Task RunWithFileSizeLimitAsync(string folder)
    {
        var database = Path.Combine(folder, "missionhub.db");
        await using var server = FaultServer.Sqlite(database, environment => ServerProcess.Start(environment, ignoreFileSizeSignal: true));
        // A write past the limit either stops short (SQLite: SQLITE_FULL) or fails with EFBIG (SQLITE_IOERR).
        await RunAsync(server, fill: () =>
        {
            var largest = new[] { database, database + "-wal", database + "-shm" }.Where(File.Exists).Max(f => new FileInfo(f).Length);
            var limit = largest + LeftFreeKiB * 1024;
            SetFileSizeLimit(server.Process.ProcessId, limit.ToString(System.Globalization.CultureInfo.InvariantCulture));
            output.WriteLine($"file-size limit set to {limit} bytes (largest database file {largest} bytes)");
        }, makeRoom: () => SetFileSizeLimit(server.Process.ProcessId, "unlimited"), ["disk full (SQLITE_FULL)", "disk I/O error (SQLITE_IOERR"]);
    }

    /// <summary>Sets the soft limit only: the hard one stays, so lifting it again needs no privilege.</summary>
    private static void SetFileSizeLimit(int processId, string limit)
    {
        var set = Run("prlimit", $"--pid {processId} --fsize={limit}:");
        Assert.True(set.Code == 0, $"prlimit --fsize={limit} failed: {set.Output.Trim()}");
    }

    private static void Fill(string mount, string filler)
    {
        var free = new DriveInfo(mount).AvailableFreeSpace;
        using var stream = File.Create(filler);
        stream.SetLength(Math.Max(0, free - LeftFreeKiB * 1024));
        // tmpfs allocates on write, not on SetLength: write the bytes so the space is really taken.
        var block = new byte[1 << 20];
        try
        {
            for (long at = 0; at < stream.Length; at += block.Length)
            {
                stream.Write(block, 0, (int)Math.Min(block.Length, stream.Length - at));
            }
            stream.Flush();
        }
        catch (IOException)
        {
            // The server's own writes took the rest meanwhile: the filesystem is full, which is what is wanted.
            stream.SetLength(stream.Position);
        }
    }

    private async Task RunAsync(FaultServer server, Action fill, Action makeRoom, string[] causes)
    {
        await server.StartAsync();
        await server.WaitForHealthAsync("ok", TimeSpan.FromSeconds(20));
        await using var worker = new ClusterWorker(server.Address, "disk-worker", 0, [FaultLoad.JobType]);
        await using var load = new FaultLoad(() => server.Client, loops: 2);
        await RedisOutageUnderLoadTests.WaitForMoreAcksAsync(load, 20);
        fill();

        // Big missions fill what is left quickly; the first refusal must name the cause.
        string? detail = null;
        var blob = new string('x', 16 * 1024);
        await Eventually.TrueAsync(async () =>
        {
            using var response = await server.Client.PostAsJsonAsync("/api/missions", new { name = "filler mission", data = new { blob } });
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                detail = (await response.AssertProblemAsync(503)).GetProperty("detail").GetString();
                return true;
            }
            Assert.True(response.IsSuccessStatusCode, $"a write answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            return false;
        }, TimeSpan.FromSeconds(30), "a write to be refused on the full disk");
        output.WriteLine($"refused: {detail}");
        Assert.True(causes.Any(c => detail!.Contains(c, StringComparison.Ordinal)), $"the refusal must name the cause ({string.Join(" or ", causes)}): {detail}");
        var health = await server.WaitForHealthAsync("error", TimeSpan.FromSeconds(15));
        output.WriteLine($"health while full: {health.GetRawText()}");
        var refusedWhileFull = load.Refused;

        makeRoom();
        await Eventually.TrueAsync(async () =>
        {
            using var response = await server.Client.PostAsJsonAsync("/api/missions", new { name = "after space returned" });
            return response.StatusCode == HttpStatusCode.Created;
        }, TimeSpan.FromSeconds(20), "a write to succeed once space returned");
        await server.WaitForHealthAsync("ok", TimeSpan.FromSeconds(20));
        await RedisOutageUnderLoadTests.WaitForMoreAcksAsync(load, 20);

        load.Pause();
        await load.WaitUntilPausedAsync(TimeSpan.FromSeconds(15));
        var report = await ConsistencyCheck.RunAsync(server.Client, TimeSpan.FromSeconds(15));
        var lost = load.FindLost(await RestView.ReadAsync(server.Client));
        output.WriteLine($"load: {load} ({refusedWhileFull} refused by the time health said error)");
        output.WriteLine($"consistency: {report}");
        output.WriteLine($"lost: {lost.Count}");
        Assert.True(load.Refused > 0, "the load should have been refused while the disk was full");
        Assert.True(lost.Count == 0, $"acknowledged writes lost:\n{string.Join('\n', lost.Take(20))}");
        Assert.True(report.JobMismatches.Count == 0, $"jobs: {report}");
        Assert.True(report.MissionMismatches.Count == 0, $"missions (half-written mission changes): {report}");
        Assert.False(server.Process.HasExited, $"the server died: {server.Diagnostics()}");
    }

    private static (int Code, string Output) Run(string file, string arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            var text = process.StandardError.ReadToEnd() + process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, text);
        }
        catch (System.ComponentModel.Win32Exception missing)
        {
            return (-1, missing.Message);
        }
    }
}
