using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using MissionHub.Tests.Cluster;
using Xunit.Abstractions;

namespace MissionHub.Tests.Faults;

/// <summary>
/// The SQLite data directory on a small tmpfs this test mounts: a filler file takes all but a little of it, the
/// server's writes fill the rest until they are refused (503 naming SQLITE_FULL), then the filler is deleted and
/// the next writes succeed, without a restart. Nothing acknowledged is lost, nothing is half-written.
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
        Assert.True(mounted.Code == 0,
            $"this machine does not allow mounting a tmpfs ({mounted.Output.Trim()}); the ulimit -f fallback is not written yet");
        output.WriteLine($"disk-full mechanism: tmpfs of {FilesystemMiB} MiB mounted at {mount}");
        try
        {
            await RunAsync(mount);
        }
        finally
        {
            Run("umount", $"-l {mount}");
        }
    }

    private async Task RunAsync(string mount)
    {
        await using var server = FaultServer.Sqlite(Path.Combine(mount, "missionhub.db"));
        await server.StartAsync();
        await server.WaitForHealthAsync("ok", TimeSpan.FromSeconds(20));
        await using var worker = new ClusterWorker(server.Address, "disk-worker", 0, [FaultLoad.JobType]);
        await using var load = new FaultLoad(() => server.Client, loops: 2);
        await RedisOutageUnderLoadTests.WaitForMoreAcksAsync(load, 20);

        var filler = Path.Combine(mount, "filler");
        var free = new DriveInfo(mount).AvailableFreeSpace;
        using (var stream = File.Create(filler))
        {
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
        Assert.Contains("disk full (SQLITE_FULL)", detail, StringComparison.Ordinal);
        var health = await server.WaitForHealthAsync("error", TimeSpan.FromSeconds(15));
        output.WriteLine($"health while full: {health.GetRawText()}");
        var refusedWhileFull = load.Refused;

        File.Delete(filler);
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
