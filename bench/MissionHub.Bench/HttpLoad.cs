using System.Diagnostics;
using HdrHistogram;

namespace MissionHub.Bench;

/// <summary>Closed-loop HTTP load: N clients, each with one request in flight, for a fixed time; latency in a histogram.</summary>
internal static class HttpLoad
{
    private static readonly long MaxLatencyTicks = 60 * Stopwatch.Frequency;

    /// <summary>Each of <paramref name="clients"/> tasks sends one GET at a time until the time is up; any non-2xx answer fails the run.</summary>
    public static async Task<(long Requests, TimeSpan Elapsed, LongHistogram Latency)> RunAsync(HttpClient client, Uri uri, int clients, TimeSpan duration)
    {
        var timer = Stopwatch.StartNew();
        var perClient = await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            var latency = new LongHistogram(MaxLatencyTicks, 3);
            long requests = 0;
            while (timer.Elapsed < duration)
            {
                var started = Stopwatch.GetTimestamp();
                using (var response = await client.GetAsync(uri, HttpCompletionOption.ResponseContentRead))
                {
                    response.EnsureSuccessStatusCode();
                }
                latency.RecordValue(Stopwatch.GetTimestamp() - started);
                requests++;
            }
            return (requests, latency);
        })));
        var elapsed = timer.Elapsed;
        var all = new LongHistogram(MaxLatencyTicks, 3);
        foreach (var (_, latency) in perClient)
        {
            all.Add(latency);
        }
        return (perClient.Sum(p => p.requests), elapsed, all);
    }

    public static double TicksToMicros(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;
}
