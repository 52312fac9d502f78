// A MissionHub worker in a few lines: takes jobs of the given types, reports progress in steps and returns
// {"echo": payload}. Ctrl+C stops it cleanly (running jobs are cancelled and go back to the hub).
//
//   dotnet run --project samples/MissionHub.SampleWorker -- --hub http://localhost:5080 --worker-id sample-1 --job-types demo,render --slots 2
//
// With keys configured on the hub, pass a worker key: --api-key mh_… (or set MISSIONHUB_API_KEY).
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using MissionHub.Client;

var arguments = ParseArguments(args);
if (arguments is null)
{
    Console.Error.WriteLine("usage: MissionHub.SampleWorker [--hub http://localhost:5080] [--worker-id sample-1] [--job-types demo,render] [--slots 2] [--steps 5] [--step-ms 200] [--api-key mh_…]");
    return 2;
}

var options = new WorkerClientOptions
{
    ServerUri = new Uri(arguments["hub"]),
    WorkerId = arguments["worker-id"],
    JobTypes = arguments["job-types"].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
    MaxConcurrentJobs = int.Parse(arguments["slots"], CultureInfo.InvariantCulture),
    ApiKey = arguments["api-key"] is { Length: > 0 } key ? key : Environment.GetEnvironmentVariable("MISSIONHUB_API_KEY"),
};
var steps = int.Parse(arguments["steps"], CultureInfo.InvariantCulture);
var stepDelay = TimeSpan.FromMilliseconds(int.Parse(arguments["step-ms"], CultureInfo.InvariantCulture));

WorkerClient worker;
try
{
    worker = new WorkerClient(options);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

worker.StateChanged += (_, e) => Log($"{e.NewState}{(e.NewState == WorkerState.Registered ? $" as {options.WorkerId} for {string.Join(',', options.JobTypes)} with {options.MaxConcurrentJobs} slots" : "")}");
worker.Disconnected += (_, e) => Log($"disconnected: {e.Reason}; retrying in {e.RetryIn.TotalSeconds:0.0} s");
worker.ErrorReceived += (_, e) => Log($"hub error {e.Code}: {e.Message}");

// Ctrl+C (SIGINT) or SIGTERM (docker stop, systemd): let RunAsync cancel the handlers and close the connection properly.
using var stop = new CancellationTokenSource();
void Stop(PosixSignalContext signal)
{
    signal.Cancel = true;
    if (!stop.IsCancellationRequested)
    {
        Log("stopping…");
        stop.Cancel();
    }
}
using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

Log($"connecting to {options.ServerUri}");
try
{
    await worker.RunAsync(async (job, cancellationToken) =>
    {
        Log($"job {job.JobId} ({job.JobType}, attempt {job.Attempt}) started");
        try
        {
            for (var step = 1; step <= steps; step++)
            {
                await Task.Delay(stepDelay, cancellationToken);
                await job.ReportProgressAsync((double)step / steps, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            Log($"job {job.JobId} cancelled");
            throw;
        }
        Log($"job {job.JobId} done");
        return JsonSerializer.SerializeToElement(new Dictionary<string, JsonElement> { ["echo"] = job.Payload });
    }, stop.Token);
}
catch (WorkerRegistrationException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 1;
}

Log($"stopped: {worker.JobsCompleted} completed, {worker.JobsFailed} failed, {worker.JobsCancelled} cancelled");
return 0;

static void Log(string message) => Console.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {message}");

static Dictionary<string, string>? ParseArguments(string[] args)
{
    var values = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["hub"] = "http://localhost:5080",
        ["worker-id"] = $"sample-{Environment.MachineName.ToLowerInvariant()}",
        ["job-types"] = "demo",
        ["slots"] = "1",
        ["steps"] = "5",
        ["step-ms"] = "200",
        ["api-key"] = "",
    };
    for (var i = 0; i < args.Length; i++)
    {
        if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length || !values.ContainsKey(args[i][2..]))
        {
            return null;
        }
        values[args[i][2..]] = args[++i];
    }
    return int.TryParse(values["slots"], CultureInfo.InvariantCulture, out _) && int.TryParse(values["steps"], CultureInfo.InvariantCulture, out var steps) && steps > 0
        && int.TryParse(values["step-ms"], CultureInfo.InvariantCulture, out var ms) && ms >= 0 && Uri.TryCreate(values["hub"], UriKind.Absolute, out _)
        ? values
        : null;
}
