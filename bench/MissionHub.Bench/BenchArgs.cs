using System.Globalization;

namespace MissionHub.Bench;

/// <summary><c>--name value</c> options with defaults; unknown names are refused.</summary>
internal sealed class BenchArgs
{
    private readonly Dictionary<string, string> _values;

    private BenchArgs(Dictionary<string, string> values) => _values = values;

    public static BenchArgs Parse(string[] args, Dictionary<string, string> defaults)
    {
        var values = new Dictionary<string, string>(defaults, StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i].StartsWith("--", StringComparison.Ordinal) ? args[i][2..] : throw new ArgumentException($"unexpected '{args[i]}'");
            if (!values.ContainsKey(name) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"unknown option or missing value: --{name}");
            }
            values[name] = args[++i];
        }
        return new BenchArgs(values);
    }

    public int Int(string name) =>
        int.TryParse(_values[name], NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new ArgumentException($"--{name} must be a positive whole number");

    public string Text(string name) => _values[name];

    /// <summary>A comma-separated list of positive whole numbers, such as <c>1,16,64</c>.</summary>
    public IReadOnlyList<int> IntList(string name)
    {
        var items = _values[name].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return items.Length > 0 && items.All(i => int.TryParse(i, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0)
            ? items.Select(i => int.Parse(i, CultureInfo.InvariantCulture)).ToArray()
            : throw new ArgumentException($"--{name} must be a comma-separated list of positive whole numbers, such as 1,16,64");
    }

    public IReadOnlyList<string> Backends => _values["backend"] switch
    {
        "all" => ["sqlite", "redis"],
        "sqlite" => ["sqlite"],
        "redis" => ["redis"],
        var other => throw new ArgumentException($"--backend '{other}': valid values are sqlite, redis, all"),
    };
}
