using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using MissionHub.Client;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace MissionHub.Cli;

/// <summary>Output: Spectre.Console tables for people, one JSON document (or one per line when following) for scripts.</summary>
internal sealed class Render
{
    private readonly TextWriter _output;
    private readonly IAnsiConsole _console;

    /// <summary>Output to <paramref name="output"/>, a terminal when it is the process's own unredirected stdout.</summary>
    public Render(TextWriter output)
        : this(output, ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected)
    {
    }

    /// <summary>Output to <paramref name="output"/>, which the caller knows to be a terminal or not.</summary>
    public Render(TextWriter output, bool isTerminal)
    {
        _output = output;
        IsTerminal = isTerminal;
        _console = CreateConsole(output, isTerminal);
    }

    /// <summary>A person is watching: live views and spinners make sense.</summary>
    public bool IsTerminal { get; }

    /// <summary>The Spectre console over the output, for live views.</summary>
    public IAnsiConsole Ansi => _console;

    private static IAnsiConsole CreateConsole(TextWriter output, bool isTerminal)
    {
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
        await _output.WriteLineAsync(JsonSerializer.Serialize(value, type));
        await _output.FlushAsync();
    }

    public void Table(IEnumerable<string> columns, IEnumerable<IEnumerable<string?>> rows, string? title = null) =>
        _console.Write(BuildTable(columns, rows, title));

    public void Properties(IEnumerable<(string Name, string? Value)> properties, string? title = null) =>
        _console.Write(BuildProperties(properties, title));

    public void Line(string text) => _console.WriteLine(text);

    /// <summary>The answer as a JSON document for scripts, or <paramref name="line"/> for people.</summary>
    public async Task JsonOrLineAsync<T>(bool json, T value, JsonTypeInfo<T> type, string line)
    {
        if (json)
        {
            await JsonAsync(value, type);
            return;
        }
        Line(line);
    }

    /// <summary>
    /// Runs <paramref name="work"/> under a spinner saying <paramref name="status"/> when a person is watching this output;
    /// otherwise just runs it (a spinner in a log file is noise).
    /// </summary>
    public async Task<T> WhileAsync<T>(string status, Func<Task<T>> work)
    {
        if (!IsTerminal)
        {
            return await work();
        }
        return await _console.Status().Spinner(Spinner.Known.Dots).StartAsync(status, _ => work());
    }

    public static Table BuildTable(IEnumerable<string> columns, IEnumerable<IEnumerable<string?>> rows, string? title = null)
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
        return table;
    }

    public static Table BuildProperties(IEnumerable<(string Name, string? Value)> properties, string? title = null) =>
        BuildTable(["field", "value"], properties.Select(p => new[] { p.Name, p.Value }), title);

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

/// <summary>What <c>schedules delete</c> and <c>keys revoke</c> report: the id and that it is gone.</summary>
internal sealed record Removed(string Id, bool Deleted);

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
[JsonSerializable(typeof(BulkJobResult))]
[JsonSerializable(typeof(QueueList))]
[JsonSerializable(typeof(QueueChange))]
[JsonSerializable(typeof(Schedule))]
[JsonSerializable(typeof(List<Schedule>))]
[JsonSerializable(typeof(ScheduleTriggerResult))]
[JsonSerializable(typeof(CreatedApiKey))]
[JsonSerializable(typeof(List<ApiKeyInfo>))]
[JsonSerializable(typeof(Removed))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
