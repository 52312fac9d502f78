using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Text.Json;
using MissionHub.Client;

namespace MissionHub.Tests.Client;

/// <summary>The typed REST clients of MissionHub.Client against a real server: every area, one error type, the SSE follower.</summary>
public sealed class RestClientsTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private readonly int _port = MissionHubFactory.FreePort();
    private MissionHubFactory _factory = null!;
    private MissionHubClient _client = null!;

    public Task InitializeAsync()
    {
        StartServer();
        // Protected mode (no key configured): loopback needs no credential, and a made-up one would be refused.
        _client = new MissionHubClient(new MissionHubClientOptions { Server = _factory.BaseAddress });
        return Task.CompletedTask;
    }

    private void StartServer() => _factory = MissionHubFactory.WithSqlite(_folder.File("hub.db"), port: _port);

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
        _folder.Dispose();
    }

    [Fact]
    public async Task Missions_CreateListShowStatusLogAndStats()
    {
        var created = await _client.Missions.CreateAsync(new NewMission("Survey bay 4", "north side", Data: JsonSerializer.SerializeToElement(new { bay = 4 })));
        Assert.Equal(MissionStatuses.Pending, created.Status);
        Assert.Equal(4, created.Data.GetProperty("bay").GetInt32());

        var running = await _client.Missions.ChangeStatusAsync(created.Id, MissionStatuses.Running);
        Assert.Equal(MissionStatuses.Running, running.Status);
        var entry = await _client.Missions.AppendLogAsync(created.Id, "info", "halfway");
        Assert.Equal("halfway", entry.Message);

        Assert.Equal(created.Id, (await _client.Missions.GetAsync(created.Id)).Id);
        Assert.Contains(await _client.Missions.ListAllAsync(MissionStatuses.Running).ToListAsync(), m => m.Id == created.Id);
        var log = await _client.Missions.ReadLogAsync(created.Id);
        Assert.Contains(log.Entries, e => e.Message == "halfway");
        var stats = await _client.Missions.GetStatsAsync();
        Assert.Equal(1, stats.ByStatus[MissionStatuses.Running]);
    }

    [Fact]
    public async Task Refusals_AreOneProblemJsonException_WithStatusDetailAndField()
    {
        var missing = await Assert.ThrowsAsync<MissionHubApiException>(() => _client.Missions.GetAsync("nope"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains("nope", missing.Detail, StringComparison.Ordinal);

        var created = await _client.Missions.CreateAsync(new NewMission("m"));
        await _client.Missions.ChangeStatusAsync(created.Id, MissionStatuses.Cancelled);
        var conflict = await Assert.ThrowsAsync<MissionHubApiException>(() => _client.Missions.ChangeStatusAsync(created.Id, MissionStatuses.Running));
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        Assert.Contains("CANCELLED", conflict.Detail, StringComparison.Ordinal);

        var invalid = await Assert.ThrowsAsync<MissionHubApiException>(() => _client.Jobs.SubmitAsync(new JobSubmission { JobType = "has spaces" }));
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.Equal("job_type", invalid.Field);
        Assert.Equal("job_type", (await Assert.ThrowsAsync<MissionHubApiException>(() => _client.Jobs.SubmitAsync(new JobSubmission { JobType = "" }))).Field);
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAsync<MissionHubApiException>(() => _client.Telemetry.GetMetricsAsync("ghost"))).StatusCode);
    }

    [Fact]
    public async Task SupervisorTelemetryAndHealth_ReportTheLiveHub()
    {
        await using var robot = await RawWorker.ConnectAsync(_factory, "/api/telemetry/ws/r1");
        await robot.SendAsync(new { cpu_usage = 45.2, memory_usage = 62.8, network_latency_ms = 12.5, battery_percentage = 78.0 });
        await Eventually.TrueAsync(async () => (await _client.Telemetry.ListRobotsAsync()).Robots.Any(r => r.RobotId == "r1" && r.Metrics.CpuUsage == 45.2),
            TimeSpan.FromSeconds(10), "the robot's telemetry");

        var metrics = await _client.Telemetry.GetMetricsAsync("r1");
        Assert.Equal(78.0, metrics.Metrics.BatteryPercentage);
        var history = await _client.Telemetry.GetHistoryAsync("r1");
        Assert.True(history.SampleCount >= 1);
        Assert.Equal(JsonValueKind.Object, (await _client.Telemetry.GetMissionMetricsAsync()).ValueKind);

        var health = await _client.Supervisor.GetHealthAsync();
        Assert.Contains(health.Status, new[] { "ok", "degraded" });
        Assert.NotEmpty(health.Checks);
        var status = await _client.Supervisor.GetStatusAsync();
        Assert.Contains(status.Agents, a => a.Id == "r1" && a.Kind == "robot");
        Assert.Single(await _client.Supervisor.ListAgentsAsync(kind: "robot"));
        Assert.Equal("sqlite", (await _client.Events.GetHealthAsync()).Storage);
    }

    [Fact]
    public async Task EventsStream_FollowsAcrossAServerRestart_WithoutAGapOrARepeat()
    {
        var first = await _client.Missions.CreateAsync(new NewMission("before"));
        var history = await _client.Events.GetAsync(afterSeq: 0, type: "mission.*");
        Assert.Equal(first.Id, history.Events.Single().Payload.GetProperty("mission_id").GetString());

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var seen = new List<EventEnvelope>();
        var reconnects = 0;
        _client.Events.Reconnecting += (_, _) => Interlocked.Increment(ref reconnects);
        var follow = Task.Run(async () =>
        {
            await foreach (var item in _client.Events.StreamAsync(type: "mission.*", lastEventId: $"{history.Epoch}:0", cancellationToken: stop.Token))
            {
                Assert.Null(item.Reset);
                lock (seen)
                {
                    seen.Add(item.Event!);
                    if (seen.Count == 3)
                    {
                        return;
                    }
                }
            }
        });
        await Eventually.TrueAsync(() => { lock (seen) { return seen.Count == 1; } }, TimeSpan.FromSeconds(10), "the first event on the stream");
        await _client.Missions.CreateAsync(new NewMission("during"));
        await Eventually.TrueAsync(() => { lock (seen) { return seen.Count == 2; } }, TimeSpan.FromSeconds(10), "the second event");

        await _factory.DisposeAsync();
        await Eventually.TrueAsync(() => Volatile.Read(ref reconnects) > 0, TimeSpan.FromSeconds(10), "the stream to notice the drop");
        StartServer();
        _ = _factory.BaseAddress;
        await _client.Missions.CreateAsync(new NewMission("after"));
        await follow.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(["before", "during", "after"], seen.Select(e => e.Payload.GetProperty("name").GetString()));
        Assert.Equal(seen.Select(e => e.Seq).Order(), seen.Select(e => e.Seq));
    }

    [Fact]
    public async Task ClientPackage_Packs_WithItsReadmeXmlDocsAndSymbols()
    {
        var output = _folder.File("pkg");
        var project = Path.Combine(FindRepoRoot(), "src", "MissionHub.Client", "MissionHub.Client.csproj");
        using var pack = Process.Start(new ProcessStartInfo("dotnet")
        {
            ArgumentList = { "pack", project, "-c", "Release", "-o", output, "--nologo", "-p:ContinuousIntegrationBuild=true" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var stdout = pack.StandardOutput.ReadToEndAsync();
        var stderr = pack.StandardError.ReadToEndAsync();
        await pack.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(4));
        Assert.True(pack.ExitCode == 0, $"dotnet pack failed: {await stdout}{await stderr}");

        var package = Directory.GetFiles(output, "MissionHub.Client.*.nupkg").Single(p => !p.EndsWith(".snupkg", StringComparison.Ordinal));
        Assert.Single(Directory.GetFiles(output, "MissionHub.Client.*.snupkg"));
        using var zip = ZipFile.OpenRead(package);
        var entries = zip.Entries.Select(e => e.FullName).ToList();
        Assert.Contains("README.md", entries);
        Assert.Contains("lib/net10.0/MissionHub.Client.dll", entries);
        Assert.Contains("lib/net10.0/MissionHub.Client.xml", entries);
        using var nuspec = new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
        var manifest = await nuspec.ReadToEndAsync();
        Assert.Contains("<readme>README.md</readme>", manifest, StringComparison.Ordinal);
        Assert.Contains("<repository", manifest, StringComparison.Ordinal);
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MissionHub.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new DirectoryNotFoundException("MissionHub.slnx not found above " + AppContext.BaseDirectory);
    }
}
