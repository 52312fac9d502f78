using System.Text.Json;
using MissionHub.Cli;

namespace MissionHub.Tests.Cli;

/// <summary><c>--watch</c> on <c>workers</c>, <c>agents</c> and <c>status</c>: live only on a terminal and only for tables.</summary>
public sealed partial class CliTests
{
    /// <summary>Stdout a person looks at (ANSI, live views), with no keyboard.</summary>
    private static readonly CliTerminal Screen = new(OutputIsTerminal: true, ErrorIsTerminal: false, Keyboard: null);

    private static Task<JsonElement?> Idle(MissionHub.Client.JobContext job, CancellationToken cancellationToken) => Task.FromResult<JsonElement?>(null);

    [Theory]
    [InlineData("workers")]
    [InlineData("agents")]
    [InlineData("status")]
    public async Task Watch_WithStdoutRedirected_PrintsOneSnapshotAndExits(string command)
    {
        await StartWorkerAsync("cli-once", Idle);

        var outcome = await RunAsync([command, "--watch"], CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.True(outcome.ExitCode == ExitCodes.Ok, outcome.Error);
        Assert.Equal(1, outcome.Output.Split('╭').Length - 1);
        Assert.DoesNotContain("Ctrl+C", outcome.Output, StringComparison.Ordinal);
        Assert.Contains(command == "status" ? "1 worker idle" : "cli-once", outcome.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_WithJsonOutput_StaysOneShot_EvenOnATerminal()
    {
        await StartWorkerAsync("cli-json", Idle);

        var outcome = await RunAsync(["workers", "--watch", "-o", "json"], CancellationToken.None, terminal: Screen).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.True(outcome.ExitCode == ExitCodes.Ok, outcome.Error);
        Assert.Equal("cli-json", outcome.Json.AsArray().Single()!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task WorkersWatch_OnATerminal_ShowsANewWorkerLive_AndCtrlCExitsZero()
    {
        await StartWorkerAsync("cli-first", Idle);
        var output = new LockedWriter();
        using var interrupt = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        // An hour between periodic re-reads: the first frame and the new worker can only come from the start and the event stream.
        var watch = RunAsync(["workers", "--watch", "--interval", "3600"], interrupt.Token, output, terminal: Screen);
        await Eventually.TrueAsync(() => output.ToString().Contains("cli-first", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the first frame");
        Assert.Contains("Ctrl+C", output.ToString(), StringComparison.Ordinal);
        Assert.False(watch.IsCompleted);

        await StartWorkerAsync("cli-second", Idle);
        await Eventually.TrueAsync(() => output.ToString().Contains("cli-second", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "the live table to show the new worker");

        await interrupt.CancelAsync();
        var outcome = await watch.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(outcome.ExitCode == ExitCodes.Ok, outcome.Error);
        Assert.Equal("", outcome.Error);
    }

    [Fact]
    public async Task StatusWatch_OnATerminal_FollowsMissionsLive_AndCtrlCExitsZero()
    {
        var output = new LockedWriter();
        using var interrupt = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var watch = RunAsync(["status", "--watch", "--interval", "3600"], interrupt.Token, output, terminal: Screen);
        await Eventually.TrueAsync(() => output.ToString().Contains("0 total", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the first frame");

        Assert.Equal(ExitCodes.Ok, (await RunAsync("missions", "create", "live")).ExitCode);
        await Eventually.TrueAsync(() => output.ToString().Contains("1 total", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "the report to count the new mission");

        await interrupt.CancelAsync();
        Assert.Equal(ExitCodes.Ok, (await watch.WaitAsync(TimeSpan.FromSeconds(10))).ExitCode);
    }
}
