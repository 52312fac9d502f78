namespace MissionHub.Bench;

/// <summary>What benchmarks that interleave a raw baseline with MissionHub print beside each round.</summary>
internal static class RoundStats
{
    /// <summary>The 1/5/15-minute load average (Linux), so a run on a busy machine says so.</summary>
    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN
            : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
