namespace MissionHub.Tests.Telemetry;

/// <summary>Bad telemetry or metrics settings stop the real server at start with one line naming the setting.</summary>
public sealed class TelemetryOptionsTests
{
    [Theory]
    [InlineData("MissionHub__Telemetry__HeartbeatTimeout", "00:00:00", "MissionHub:Telemetry:HeartbeatTimeout is 00:00:00")]
    [InlineData("MissionHub__Telemetry__Alerts__BatteryClearAtOrAbove", "10", "MissionHub:Telemetry:Alerts:BatteryClearAtOrAbove (10) must be at least BatteryLowBelow (20)")]
    [InlineData("MissionHub__Metrics__AggregationInterval", "-00:00:01", "MissionHub:Metrics:AggregationInterval is -00:00:01")]
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
        var line = Assert.Single(server.Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Contains(expected, line, StringComparison.Ordinal);
    }
}
