using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MissionHub.Cli;
using MissionHub.Client;

namespace MissionHub.Tests.Cli;

/// <summary>The real <c>missionhub</c> tool (its in-process entry point) against a real server and a real worker.</summary>
public sealed partial class CliTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private readonly int _port = MissionHubFactory.FreePort();
    private readonly List<(CancellationTokenSource Stop, Task Run)> _workers = [];
    private MissionHubFactory _factory = null!;

    private string Server => $"http://127.0.0.1:{_port}";

    public Task InitializeAsync()
    {
        StartServer();
        return Task.CompletedTask;
    }

    private void StartServer()
    {
        _factory = MissionHubFactory.WithSqlite(_folder.File("hub.db"), port: _port);
        _ = _factory.BaseAddress;
    }

    public async Task DisposeAsync()
    {
        await StopWorkersAsync();
        await _factory.DisposeAsync();
        _folder.Dispose();
    }

    private sealed record Outcome(int ExitCode, string Output, string Error)
    {
        public JsonNode Json => JsonNode.Parse(Output) ?? throw new InvalidOperationException("no JSON output");
    }

    /// <summary>Runs <c>missionhub args…</c> with MISSIONHUB_URL pointing at the test server.</summary>
    private async Task<Outcome> RunAsync(params string[] args) => await RunAsync(args, CancellationToken.None);

    private async Task<Outcome> RunAsync(
        string[] args, CancellationToken cancellationToken, LockedWriter? output = null, LockedWriter? error = null, CliTerminal? terminal = null)
    {
        output ??= new LockedWriter();
        error ??= new LockedWriter();
        var exit = await CliApp.RunAsync(args, output, error, name => name == "MISSIONHUB_URL" ? Server : null, terminal ?? CliTerminal.None, cancellationToken);
        return new Outcome(exit, output.ToString(), error.ToString());
    }

    private async Task StartWorkerAsync(string id, Func<JobContext, CancellationToken, Task<JsonElement?>> handler)
    {
        var worker = new WorkerClient(new WorkerClientOptions { ServerUri = _factory.BaseAddress, WorkerId = id, JobTypes = ["render"] });
        var stop = new CancellationTokenSource();
        _workers.Add((stop, worker.RunAsync(handler, stop.Token)));
        await Eventually.TrueAsync(() => worker.State == WorkerState.Registered, TimeSpan.FromSeconds(10), $"worker {id} to register");
    }

    [Fact]
    public async Task Missions_CreateShowStatusLogAndList_WithJsonThatParses()
    {
        var created = await RunAsync("missions", "create", "Survey bay 4", "--description", "north", "--data", """{"bay":4}""", "-o", "json");
        Assert.Equal(ExitCodes.Ok, created.ExitCode);
        var id = created.Json["id"]!.GetValue<string>();
        Assert.Equal("PENDING", created.Json["status"]!.GetValue<string>());
        Assert.Equal(4, created.Json["data"]!["bay"]!.GetValue<int>());

        Assert.Equal("RUNNING", (await RunAsync("missions", "status", id, "RUNNING", "--output", "json")).Json["status"]!.GetValue<string>());
        Assert.Equal(ExitCodes.Ok, (await RunAsync("missions", "log", id, "-m", "halfway", "--level", "warning")).ExitCode);
        var log = await RunAsync("missions", "log", id, "-o", "json");
        Assert.Contains(log.Json["entries"]!.AsArray(), e => e!["message"]!.GetValue<string>() == "halfway" && e["level"]!.GetValue<string>() == "warning");
        var shown = await RunAsync("missions", "show", id);
        Assert.Contains("Survey bay 4", shown.Output, StringComparison.Ordinal);
        Assert.Contains("RUNNING", shown.Output, StringComparison.Ordinal);
        var listed = await RunAsync("missions", "list", "--status", "RUNNING", "-o", "json");
        Assert.Equal(id, listed.Json["missions"]!.AsArray().Single()!["id"]!.GetValue<string>());

        var status = await RunAsync("status");
        Assert.Equal(ExitCodes.Ok, status.ExitCode);
        Assert.Contains("health", status.Output, StringComparison.Ordinal);
        Assert.Contains("RUNNING 1", status.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JobsSubmitWait_ReturnsTheResultOfARealWorker_AndAFailureExitsOne()
    {
        await StartWorkerAsync("cli-1", (job, cancellationToken) => job.Payload.TryGetProperty("fail", out _)
            ? throw new InvalidOperationException("asked to fail")
            : Task.FromResult<JsonElement?>(JsonSerializer.SerializeToElement(new { echo = job.Payload })));

        var done = await RunAsync("jobs", "submit", "render", "--payload", """{"frames":3}""", "--max-attempts", "1", "--wait", "--wait-timeout", "30", "-o", "json");
        Assert.True(done.ExitCode == ExitCodes.Ok, done.Error);
        Assert.Equal("completed", done.Json["status"]!.GetValue<string>());
        Assert.Equal(3, done.Json["result"]!["echo"]!["frames"]!.GetValue<int>());
        Assert.Contains("completed", done.Error, StringComparison.Ordinal);

        var failed = await RunAsync("jobs", "submit", "render", "--payload", """{"fail":true}""", "--max-attempts", "1", "--wait", "-o", "json");
        Assert.Equal(ExitCodes.Failed, failed.ExitCode);
        Assert.Equal("failed", failed.Json["status"]!.GetValue<string>());
        Assert.Contains("asked to fail", failed.Json["error"]!.GetValue<string>(), StringComparison.Ordinal);

        var id = done.Json["id"]!.GetValue<string>();
        Assert.Equal("completed", (await RunAsync("jobs", "show", id, "-o", "json")).Json["status"]!.GetValue<string>());
        var listed = await RunAsync("jobs", "list", "--status", "completed", "-o", "json");
        Assert.Contains(listed.Json.AsArray(), j => j!["id"]!.GetValue<string>() == id);
        var cancelled = await RunAsync("jobs", "cancel", id);
        Assert.Equal(ExitCodes.Failed, cancelled.ExitCode);
        Assert.Contains("409", cancelled.Error, StringComparison.Ordinal);
        Assert.Single(cancelled.Error.Trim().Split('\n'));

        var workers = await RunAsync("workers", "-o", "json");
        Assert.Equal("cli-1", workers.Json.AsArray().Single()!["id"]!.GetValue<string>());
        Assert.Contains("cli-1", (await RunAsync("agents")).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JobsSubmitWait_WithNoWorker_TimesOutWithExitFour()
    {
        var waited = await RunAsync("jobs", "submit", "render", "--wait", "--wait-timeout", "0.5");
        Assert.Equal(ExitCodes.TimedOut, waited.ExitCode);
        Assert.Contains("did not finish", waited.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EventsTail_ShowsEvents_AndResumesAcrossAServerRestart_WithoutAGap()
    {
        Assert.Equal(ExitCodes.Ok, (await RunAsync("missions", "create", "before")).ExitCode);

        var output = new LockedWriter();
        var error = new LockedWriter();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var tail = RunAsync(["events", "tail", "--type", "mission.*", "--from-seq", "0", "--count", "3", "-o", "json"], stop.Token, output, error);
        await Eventually.TrueAsync(() => Lines(output).Count == 1, TimeSpan.FromSeconds(10), "the first event in the tail");
        Assert.Equal(ExitCodes.Ok, (await RunAsync("missions", "create", "during")).ExitCode);
        await Eventually.TrueAsync(() => Lines(output).Count == 2, TimeSpan.FromSeconds(10), "the second event in the tail");

        await _factory.DisposeAsync();
        await Eventually.TrueAsync(() => error.ToString().Contains("reconnecting", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the tail to notice the drop");
        StartServer();
        Assert.Equal(ExitCodes.Ok, (await RunAsync("missions", "create", "after")).ExitCode);

        var outcome = await tail.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(ExitCodes.Ok, outcome.ExitCode);
        var events = Lines(output).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(["before", "during", "after"], events.Select(e => e["payload"]!["name"]!.GetValue<string>()));
        var seqs = events.Select(e => e["seq"]!.GetValue<long>()).ToList();
        Assert.Equal(seqs.Order().Distinct(), seqs);
        // The log's own history confirms nothing of the filter was skipped between them.
        using var http = new HttpClient { BaseAddress = _factory.BaseAddress };
        var history = JsonNode.Parse(await http.GetStringAsync(new Uri("/api/events?after_seq=0&type=mission.*", UriKind.Relative)))!["events"]!.AsArray();
        Assert.Equal(history.Select(e => e!["seq"]!.GetValue<long>()), seqs);
    }

    [Fact]
    public async Task EventsTail_TableOutput_ShowsSeqTypeAndTarget()
    {
        await RunAsync("missions", "create", "shown", "--id", "m-tail");
        var tail = await RunAsync("events", "tail", "--from-seq", "0", "-n", "1");
        Assert.Equal(ExitCodes.Ok, tail.ExitCode);
        Assert.Matches(@"^1  \S+ \S+  mission\.created  -  \{""mission_id"":""m-tail"",""name"":""shown""", tail.Output);
    }

    public static TheoryData<string[]> WrongArguments => new()
    {
        new[] { "missions", "bogus" },
        new[] { "frobnicate" },
        new[] { "jobs", "submit" },
        new[] { "jobs", "submit", "render", "--payload", "[1]" },
        new[] { "jobs", "submit", "render", "--payload", "{not json" },
        new[] { "jobs", "submit", "render", "--priority", "high" },
        new[] { "--output", "xml", "status" },
        new[] { "missions", "status", "some-id", "DONE" },
        new[] { "events", "tail", "--from-seq", "-5" },
        new[] { "--server", "not a url", "status" },
        new[] { "missions", "list", "--limit" },
        new[] { "jobs", "retry", "--status", "completed" },
        new[] { "jobs", "retry", "some-id", "--status", "failed" },
        new[] { "jobs", "purge", "--status", "running", "--yes" },
        new[] { "queues", "pause" },
        new[] { "queues", "drain", "render" },
        new[] { "schedules", "create", "--id", "nightly", "--job-type", "report" },
        new[] { "schedules", "create", "--id", "n", "--cron", "0 2 * * *", "--job-type", "report", "--overlap", "never" },
        new[] { "schedules", "create", "--id", "n", "--cron", "0 2 * * *", "--job-type", "report", "--payload", "[1]" },
        new[] { "schedules", "show" },
        new[] { "keys", "create", "--name", "ci" },
        new[] { "keys", "create", "--name", "ci", "--role", "superuser" },
        new[] { "keys", "create", "--name", "ci", "--role", "viewer", "--expires-in-days", "0" },
        new[] { "workers", "--watch", "--state", "sleepy" },
        new[] { "status", "--watch", "--interval", "0" },
    };

    [Theory]
    [MemberData(nameof(WrongArguments))]
    public async Task WrongArguments_ExitTwo_WithOneLineOnStderr_AndNothingOnStdout(string[] args)
    {
        var outcome = await RunAsync(args);

        Assert.Equal(ExitCodes.Usage, outcome.ExitCode);
        Assert.Equal("", outcome.Output);
        var lines = outcome.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("missionhub: ", lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnreachableHub_ExitsThree_NamingTheServer()
    {
        var nowhere = $"http://127.0.0.1:{MissionHubFactory.FreePort()}";
        var outcome = await RunAsync("--server", nowhere, "status");

        Assert.Equal(ExitCodes.Unreachable, outcome.ExitCode);
        Assert.Contains(nowhere, outcome.Error, StringComparison.Ordinal);
        Assert.Single(outcome.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Tool_PacksAsADotnetTool_NamedMissionhub()
    {
        var output = _folder.File("tool");
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "MissionHub.slnx")))
        {
            root = root.Parent!;
        }
        using var pack = Process.Start(new ProcessStartInfo("dotnet")
        {
            ArgumentList = { "pack", Path.Combine(root.FullName, "src", "MissionHub.Cli", "MissionHub.Cli.csproj"), "-c", "Release", "-o", output, "--nologo" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var stdout = pack.StandardOutput.ReadToEndAsync();
        var stderr = pack.StandardError.ReadToEndAsync();
        await pack.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(4));
        Assert.True(pack.ExitCode == 0, $"dotnet pack failed: {await stdout}{await stderr}");

        using var zip = ZipFile.OpenRead(Directory.GetFiles(output, "MissionHub.Cli.*.nupkg").Single());
        var settings = zip.Entries.Single(e => e.FullName.EndsWith("DotnetToolSettings.xml", StringComparison.Ordinal));
        using var reader = new StreamReader(settings.Open());
        var xml = await reader.ReadToEndAsync();
        Assert.Contains("Name=\"missionhub\"", xml, StringComparison.Ordinal);
        Assert.Contains(zip.Entries, e => e.FullName.EndsWith("/MissionHub.Cli.dll", StringComparison.Ordinal));
    }

    private async Task StopWorkersAsync()
    {
        foreach (var (stop, run) in _workers)
        {
            await stop.CancelAsync();
            await run.WaitAsync(TimeSpan.FromSeconds(10));
            stop.Dispose();
        }
        _workers.Clear();
    }

    private static List<string> Lines(LockedWriter writer) =>
        [.. writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    /// <summary>A string writer the tool can write to from its own task while the test reads it.</summary>
    private sealed class LockedWriter : TextWriter
    {
        private readonly StringBuilder _text = new();

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            lock (_text)
            {
                _text.Append(value);
            }
        }

        public override void Write(string? value)
        {
            lock (_text)
            {
                _text.Append(value);
            }
        }

        public override void WriteLine(string? value)
        {
            lock (_text)
            {
                _text.Append(value).Append('\n');
            }
        }

        public override Task WriteLineAsync(string? value)
        {
            WriteLine(value);
            return Task.CompletedTask;
        }

        public override Task WriteAsync(string? value)
        {
            Write(value);
            return Task.CompletedTask;
        }

        public override Task FlushAsync() => Task.CompletedTask;

        public override string ToString()
        {
            lock (_text)
            {
                return _text.ToString();
            }
        }
    }
}
