namespace MissionHub.Tests;

/// <summary>The real server process: how it starts and how it refuses bad configuration.</summary>
public sealed class StartupTests
{
    [Theory]
    [InlineData("MissionHub__Storage__Provider", "postgres", "MissionHub:Storage:Provider is 'postgres'; valid values: sqlite, redis")]
    [InlineData("MissionHub__Storage__Sqlite__Synchronous", "sometimes", "MissionHub:Storage:Sqlite:Synchronous is 'sometimes'; valid values: full, normal")]
    [InlineData("MissionHub__Events__MaxEvents", "0", "MissionHub:Events:MaxEvents is 0")]
    [InlineData("MissionHub__Events__Retention__probes__Types", "supervisor.health_checked", "MissionHub:Events:Retention:supervisor:Types 'supervisor.*' overlaps MissionHub:Events:Retention:probes")]
    [InlineData("MissionHub__Events__Retention__supervisor__Types", "super visor", "MissionHub:Events:Retention:supervisor:Types is 'super visor'")]
    [InlineData("MissionHub__Events__Retention__supervisor__MaxEvents", "0", "MissionHub:Events:Retention:supervisor:MaxEvents is 0")]
    [InlineData("MissionHub__Telemetry__HeartbeatTimeout", "00:00:00", "MissionHub:Telemetry:HeartbeatTimeout is 00:00:00")]
    [InlineData("MissionHub__Telemetry__Alerts__BatteryClearAtOrAbove", "10", "MissionHub:Telemetry:Alerts:BatteryClearAtOrAbove (10) must be at least BatteryLowBelow (20)")]
    [InlineData("MissionHub__Metrics__AggregationInterval", "-00:00:01", "MissionHub:Metrics:AggregationInterval is -00:00:01")]
    [InlineData("MissionHub__History__CheckpointEvery", "1", "MissionHub:History:CheckpointEvery is 1; it must be 2 to 10000000")]
    public async Task WrongSetting_FailsAtStartup_WithOneLineNamingIt(string setting, string value, string expected)
    {
        using var folder = new TempFolder();
        await using var server = ServerProcess.Start(new Dictionary<string, string>
        {
            [setting] = value,
            ["MissionHub__Storage__Sqlite__Path"] = folder.File("hub.db"),
        });

        var exitCode = await server.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(2, exitCode);
        var lines = server.Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var line = Assert.Single(lines);
        Assert.Contains(expected, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DefaultStart_DoesNotWatchTheContentRoot_WhereTheDatabaseIsWritten()
    {
        // A config file watcher on the content root would wake on every write to ./data/missionhub.db.
        using var folder = new TempFolder();
        await using var server = ServerProcess.Start(new Dictionary<string, string>(), workingDirectory: folder.Path);
        await server.WaitUntilReadyAsync();

        var watchers = Directory.GetFiles($"/proc/{server.ProcessId}/fd")
            .Select(fd => new FileInfo(fd).LinkTarget)
            .Count(target => target is not null && target.Contains("inotify", StringComparison.Ordinal));

        Assert.Equal(0, watchers);
    }

    [Fact]
    public async Task DefaultStart_ServesHealth_OnTheEmbeddedStore()
    {
        using var folder = new TempFolder();
        await using var server = ServerProcess.Start(new Dictionary<string, string>(), workingDirectory: folder.Path);

        await server.WaitUntilReadyAsync();
        using var client = server.CreateClient();
        var health = await client.GetJsonAsync("/api/health");

        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.Equal("sqlite", health.GetProperty("storage").GetString());
        Assert.True(File.Exists(Path.Combine(folder.Path, "data", "missionhub.db")), "the default database file is under ./data");
    }
}
