using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;

namespace MissionHub.Bench;

/// <summary>
/// <c>telemetry</c>: frames ingested per second over real WebSockets by the real server (its own process, on a fresh
/// SQLite file), with N robots paced at a rate (200 at 10 Hz by default) and then sending as fast as they can.
/// Ingested = accepted frames and samples written to the time series, read from the server's <c>/metrics</c>.
/// </summary>
internal static class TelemetryBenchmark
{
    public const string Usage = "[--robots 200] [--hz 10] [--seconds 10]";

    public static async Task<int> RunAsync(string[] args)
    {
        var robots = 200;
        var hz = 10.0;
        var seconds = 10;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--robots": robots = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--hz": hz = double.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--seconds": seconds = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }

        var folder = Directory.CreateTempSubdirectory("missionhub-bench-telemetry-").FullName;
        var port = FreePort();
        var server = StartServer(port, Path.Combine(folder, "hub.db"));
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await WaitReadyAsync(http);
            Console.Error.WriteLine($"telemetry: server on 127.0.0.1:{port}, {robots} robots, {seconds} s per run, {Environment.ProcessorCount} cores");

            var sockets = new ClientWebSocket[robots];
            for (var r = 0; r < robots; r++)
            {
                sockets[r] = new ClientWebSocket();
                await sockets[r].ConnectAsync(new Uri($"ws://127.0.0.1:{port}/api/telemetry/ws/bench-{r}"), CancellationToken.None);
            }

            Console.WriteLine("| run | robots | frames sent/s | frames ingested/s | samples written/s | dropped |");
            Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: |");
            await RunAsync(http, sockets, hz, seconds, $"{hz:0.#} Hz each");
            await RunAsync(http, sockets, null, seconds, "full speed");

            foreach (var socket in sockets)
            {
                try
                {
                    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
                }
                catch (WebSocketException)
                {
                    // Already dropped by the server (e.g. a heartbeat timeout while the last run drained).
                }
                socket.Dispose();
            }
            return 0;
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
            server.Dispose();
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task RunAsync(HttpClient http, ClientWebSocket[] sockets, double? hz, int seconds, string label)
    {
        var (framesBefore, writtenBefore, droppedBefore) = await ReadCountersAsync(http);
        var stopwatch = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        long sent = 0;
        var senders = sockets.Select((socket, index) => Task.Run(async () =>
        {
            var random = new Random(index);
            var interval = hz is { } rate ? TimeSpan.FromSeconds(1 / rate) : TimeSpan.Zero;
            var next = stopwatch.Elapsed + TimeSpan.FromMilliseconds(random.Next(0, 100));
            long mine = 0;
            while (stopwatch.Elapsed < deadline)
            {
                if (hz is not null)
                {
                    var wait = next - stopwatch.Elapsed;
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait); // pacing a robot's send rate, not synchronisation
                    }
                    next += interval;
                }
                var frame = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
                    $"{{\"cpu_usage\":{random.Next(0, 100)},\"memory_usage\":{random.Next(0, 100)},\"network_latency_ms\":{random.Next(1, 50)},\"battery_percentage\":{random.Next(30, 100)}}}"));
                await socket.SendAsync(frame, WebSocketMessageType.Text, true, CancellationToken.None);
                mine++;
            }
            Interlocked.Add(ref sent, mine);
        })).ToArray();
        await Task.WhenAll(senders);
        var elapsed = stopwatch.Elapsed.TotalSeconds;

        // Let the server drain what is in flight, then read its counters.
        (long Frames, long Written, long Dropped) after = default;
        for (var attempt = 0; attempt < 100; attempt++)
        {
            after = await ReadCountersAsync(http);
            if (after.Frames - framesBefore >= sent && after.Written + after.Dropped - writtenBefore - droppedBefore >= sent)
            {
                break;
            }
            await Task.Delay(200);
        }
        var total = stopwatch.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {label} | {sockets.Length} | {sent / elapsed:N0} | {(after.Frames - framesBefore) / total:N0} | {(after.Written - writtenBefore) / total:N0} | {after.Dropped - droppedBefore:N0} |"));
    }

    private static async Task<(long Frames, long Written, long Dropped)> ReadCountersAsync(HttpClient http)
    {
        var text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        long Read(string name) => text.Split('\n')
            .Where(l => l.StartsWith(name, StringComparison.Ordinal))
            .Select(l => (long)double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture))
            .FirstOrDefault();
        return (Read("missionhub_telemetry_frames_total"), Read("missionhub_telemetry_samples_written_total"), Read("missionhub_telemetry_samples_dropped_total"));
    }

    private static Process StartServer(int port, string database)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { typeof(MissionHub.Telemetry.TelemetryService).Assembly.Location },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["Urls"] = $"http://127.0.0.1:{port}";
        start.Environment["MissionHub__Storage__Sqlite__Path"] = database;
        start.Environment["MissionHub__Storage__Sqlite__Synchronous"] = "normal";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the server");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task WaitReadyAsync(HttpClient http)
    {
        for (var attempt = 0; attempt < 300; attempt++)
        {
            try
            {
                using var response = await http.GetAsync(new Uri("/metrics", UriKind.Relative));
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
        throw new InvalidOperationException("the server did not start");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
