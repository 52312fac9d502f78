using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using MissionHub.Client;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace MissionHub.Cli;

/// <summary>Output: Spectre.Console tables for people, one JSON document (or one per line when following) for scripts.</summary>
internal sealed class Render(TextWriter output)
{
    private readonly IAnsiConsole _console = CreateConsole(output);

    private static IAnsiConsole CreateConsole(TextWriter output)
    {
        var isTerminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = isTerminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = isTerminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = isTerminal ? InteractionSupport.Detect : InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        if (!isTerminal)
        {
            console.Profile.Width = 240;
        }
        return console;
    }

    public async Task JsonAsync<T>(T value, JsonTypeInfo<T> type)
    {
        await output.WriteLineAsync(JsonSerializer.Serialize(value, type));
        await output.FlushAsync();
    }

    public void Table(IEnumerable<string> columns, IEnumerable<IEnumerable<string?>> rows, string? title = null)
    {
        var table = new Table().Border(TableBorder.Rounded);
        if (title is not null)
        {
            table.Title(new TableTitle(title));
        }
        foreach (var column in columns)
        {
            table.AddColumn(new TableColumn(new Text(column)));
        }
        foreach (var row in rows)
        {
            table.AddRow(row.Select(cell => (IRenderable)new Text(cell ?? "")));
        }
        _console.Write(table);
    }

    public void Properties(IEnumerable<(string Name, string? Value)> properties, string? title = null) =>
        Table(["field", "value"], properties.Select(p => new[] { p.Name, p.Value }), title);

    public void Line(string text) => _console.WriteLine(text);

    public static string Time(double? unixSeconds) => unixSeconds is { } s
        ? DateTimeOffset.FromUnixTimeMilliseconds((long)(s * 1000)).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture)
        : "";

    public static string Number(double? value) => value?.ToString("0.###", CultureInfo.InvariantCulture) ?? "";

    public static string Compact(JsonElement? element, int max = 120)
    {
        if (element is not { } value || value.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return "";
        }
        var text = value.GetRawText().ReplaceLineEndings(" ");
        return text.Length <= max ? text : text[..max] + "…";
    }
}

/// <summary>What <c>missionhub status</c> reports.</summary>
internal sealed record StatusReport(
    string Health, string Storage, string Epoch, long LastSeq, MissionStats Missions, IReadOnlyDictionary<string, int> Agents,
    JsonElement? Jobs);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(Mission))]
[JsonSerializable(typeof(MissionPage))]
[JsonSerializable(typeof(MissionLogEntry))]
[JsonSerializable(typeof(MissionLogPage))]
[JsonSerializable(typeof(JobInfo))]
[JsonSerializable(typeof(List<JobInfo>))]
[JsonSerializable(typeof(List<Agent>))]
[JsonSerializable(typeof(EventEnvelope))]
[JsonSerializable(typeof(StatusReport))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
