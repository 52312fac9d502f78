using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace MissionHub.Bench;

/// <summary>
/// The BullMQ peer (<c>bench/peers/bullmq/bench.js</c>) run with <c>node</c> against the bench's own redis-server.
/// <see cref="Find"/> says plainly why it cannot run (no node, no script) so the bench can skip it and go on.
/// </summary>
internal sealed class BullMqPeer
{
    private readonly string _node;
    private readonly string _folder;

    private BullMqPeer(string node, string folder)
    {
        _node = node;
        _folder = folder;
    }

    public string Folder => _folder;

    /// <summary>The peer, or null with <paramref name="whyNot"/> saying what is missing and how to get it.</summary>
    public static BullMqPeer? Find(out string whyNot)
    {
        whyNot = "";
        var node = OnPath("node");
        if (node is null)
        {
            whyNot = "node is not installed, so the BullMQ part is skipped: install it with `apt-get install nodejs npm` and run again";
            return null;
        }
        var folder = FindPeerFolder();
        if (folder is null)
        {
            whyNot = "bench/peers/bullmq/bench.js was not found above the working directory or the bench's folder, so the BullMQ part is skipped: run the bench from the repository";
            return null;
        }
        return new BullMqPeer(node, folder);
    }

    /// <summary>Installs the peer's locked dependencies (<c>npm ci</c>) when <c>node_modules</c> is missing.</summary>
    public async Task<string?> EnsureInstalledAsync()
    {
        if (Directory.Exists(Path.Combine(_folder, "node_modules", "bullmq")))
        {
            return null;
        }
        var npm = OnPath("npm");
        if (npm is null)
        {
            return "npm is not installed, so the BullMQ part is skipped: install it with `apt-get install nodejs npm` and run again";
        }
        Console.Error.WriteLine($"  bullmq: installing the locked dependencies (npm ci in {_folder})");
        var (exitCode, _, errors) = await RunAsync(npm, ["ci", "--no-audit", "--no-fund", "--loglevel=error"], TimeSpan.FromMinutes(5), echoErrors: false);
        return exitCode == 0 ? null : $"npm ci failed ({exitCode}), so the BullMQ part is skipped: {errors.Trim()}";
    }

    public async Task<string> NodeVersionAsync() => (await RunAsync(_node, ["--version"], TimeSpan.FromSeconds(10), echoErrors: false)).Output.Trim();

    /// <summary>Runs the workload; returns the peer's JSON result line.</summary>
    public async Task<BullMqResult> RunAsync(int redisPort, int jobs, int workers, int concurrency, int submitters, string mode, int warmupJobs, int rate, int seconds)
    {
        string[] arguments =
        [
            Path.Combine(_folder, "bench.js"),
            "--port", redisPort.ToString(CultureInfo.InvariantCulture),
            "--jobs", jobs.ToString(CultureInfo.InvariantCulture),
            "--workers", workers.ToString(CultureInfo.InvariantCulture),
            "--concurrency", concurrency.ToString(CultureInfo.InvariantCulture),
            "--submitters", submitters.ToString(CultureInfo.InvariantCulture),
            "--mode", mode,
            "--warmup", warmupJobs.ToString(CultureInfo.InvariantCulture),
            "--rate", rate.ToString(CultureInfo.InvariantCulture),
            "--seconds", seconds.ToString(CultureInfo.InvariantCulture),
            "--prefix", $"bullbench{Guid.NewGuid():N}",
        ];
        var (exitCode, output, errors) = await RunAsync(_node, arguments, TimeSpan.FromMinutes(10), echoErrors: true);
        var line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault(l => l.StartsWith('{'));
        if (exitCode != 0 || line is null)
        {
            throw new InvalidOperationException($"the BullMQ peer exited with {exitCode}: {errors.Trim()}");
        }
        using var result = JsonDocument.Parse(line);
        var root = result.RootElement;
        return new BullMqResult(
            root.GetProperty("bullmq").GetString() ?? "?",
            root.GetProperty("jobs_per_s").GetDouble(),
            root.GetProperty("lost").GetInt32(),
            root.GetProperty("doubled").GetInt32(),
            root.GetProperty("latency_p50_ms").GetDouble(),
            root.GetProperty("latency_p99_ms").GetDouble(),
            root.GetProperty("latency_max_ms").GetDouble());
    }

    private async Task<(int ExitCode, string Output, string Errors)> RunAsync(string executable, string[] arguments, TimeSpan timeout, bool echoErrors)
    {
        var start = new ProcessStartInfo(executable)
        {
            WorkingDirectory = _folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {executable}");
        var errors = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }
            lock (errors)
            {
                errors.AppendLine(e.Data);
            }
            if (echoErrors)
            {
                Console.Error.WriteLine($"  bullmq: {e.Data}");
            }
        };
        process.BeginErrorReadLine();
        var output = process.StandardOutput.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(executable)} did not finish within {timeout.TotalSeconds} s");
        }
        process.WaitForExit();
        var text = await output;
        string errorText;
        lock (errors)
        {
            errorText = errors.ToString();
        }
        return (process.ExitCode, text, errorText);
    }

    private static string? OnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, name))
            .FirstOrDefault(File.Exists);

    private static string? FindPeerFolder()
    {
        foreach (var origin in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var folder = new DirectoryInfo(origin); folder is not null; folder = folder.Parent)
            {
                var candidate = Path.Combine(folder.FullName, "bench", "peers", "bullmq");
                if (File.Exists(Path.Combine(candidate, "bench.js")))
                {
                    return candidate;
                }
            }
        }
        return null;
    }
}

internal sealed record BullMqResult(string Version, double JobsPerSecond, int Lost, int Doubled, double LatencyP50Ms, double LatencyP99Ms, double LatencyMaxMs);
