using System.CommandLine;
using System.Text.Json;
using MissionHub.Client;

namespace MissionHub.Cli;

/// <summary>
/// The <c>missionhub</c> command tree on System.CommandLine. <see cref="RunAsync"/> is the whole tool: the process entry
/// point calls it with the console, tests call it in-process with string writers (and, unless they say otherwise, no terminal).
/// </summary>
public static class CliApp
{
    public const string DefaultServer = "http://localhost:5080";

    public static Task<int> RunAsync(
        string[] args, TextWriter output, TextWriter error, Func<string, string?> environment, CancellationToken cancellationToken = default) =>
        RunAsync(args, output, error, environment, CliTerminal.None, cancellationToken);

    public static async Task<int> RunAsync(
        string[] args, TextWriter output, TextWriter error, Func<string, string?> environment, CliTerminal terminal, CancellationToken cancellationToken)
    {
        var globals = new GlobalOptions(environment, terminal);
        var root = new RootCommand("missionhub: operate a MissionHub from the terminal (missions, jobs, queues, schedules, workers, keys, the event stream)");
        foreach (var option in globals.All)
        {
            root.Options.Add(option);
        }
        root.Subcommands.Add(StatusCommand.Create(globals, output, error));
        root.Subcommands.Add(AgentsCommand.Create("workers", "Workers connected or recently seen: state, job types, slots, current jobs", "worker", globals, output, error));
        root.Subcommands.Add(AgentsCommand.Create("agents", "Every agent (workers and robots) with state and last heartbeat", null, globals, output, error));
        root.Subcommands.Add(EventsCommand.Create(globals, output, error));
        root.Subcommands.Add(MissionsCommand.Create(globals, output, error));
        root.Subcommands.Add(JobsCommand.Create(globals, output, error));
        root.Subcommands.Add(QueuesCommand.Create(globals, output, error));
        root.Subcommands.Add(SchedulesCommand.Create(globals, output, error));
        root.Subcommands.Add(KeysCommand.Create(globals, output, error));

        var parsed = root.Parse(args.Length == 0 ? ["--help"] : args);
        if (parsed.Errors.Count > 0)
        {
            // An unknown word says more than the "required command" it leaves behind.
            var first = parsed.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parsed.Errors[0];
            await error.WriteLineAsync($"missionhub: {OneLine(first.Message)} (see 'missionhub --help')");
            return ExitCodes.Usage;
        }
        try
        {
            return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false }, cancellationToken);
        }
        catch (UsageException usage)
        {
            await error.WriteLineAsync($"missionhub: {OneLine(usage.Message)} (see 'missionhub --help')");
            return ExitCodes.Usage;
        }
        catch (MissionHubApiException refused)
        {
            await error.WriteLineAsync($"missionhub: {OneLine(refused.Message)}");
            return ExitCodes.Failed;
        }
        catch (HttpRequestException unreachable)
        {
            await error.WriteLineAsync($"missionhub: cannot reach the hub at {globals.LastServer}: {OneLine(unreachable.Message)} (set --server or MISSIONHUB_URL)");
            return ExitCodes.Unreachable;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Interrupted;
        }
        catch (TaskCanceledException timeout)
        {
            await error.WriteLineAsync($"missionhub: the hub at {globals.LastServer} did not answer in time: {OneLine(timeout.Message)}");
            return ExitCodes.Unreachable;
        }
    }

    internal static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries)).Trim();

    /// <summary>A JSON argument (<c>--payload</c>, <c>--data</c>) that must be an object.</summary>
    internal static JsonElement? ParseObject(string? json, string option)
    {
        if (json is null)
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new UsageException($"{option} must be a JSON object, e.g. '{{\"frames\": 3}}'");
            }
            return document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new UsageException($"{option} is not valid JSON: {ex.Message}");
        }
    }
}

/// <summary>Wrong arguments found after parsing (a malformed JSON value, a bad URL): exit code 2 with one line.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>The options every command takes (recursive): where the hub is, the key, the output format.</summary>
internal sealed class GlobalOptions
{
    public GlobalOptions(Func<string, string?> environment, CliTerminal terminal)
    {
        Terminal = terminal;
        Server = new Option<string>("--server", "-s")
        {
            Description = $"The hub's URL (default: $MISSIONHUB_URL or {CliApp.DefaultServer})",
            Recursive = true,
            DefaultValueFactory = _ => environment("MISSIONHUB_URL") is { Length: > 0 } url ? url : CliApp.DefaultServer,
        };
        ApiKey = new Option<string?>("--api-key")
        {
            Description = "API key sent as X-Api-Key (default: $MISSIONHUB_API_KEY)",
            Recursive = true,
            DefaultValueFactory = _ => environment("MISSIONHUB_API_KEY") is { Length: > 0 } key ? key : null,
        };
        Output = new Option<string>("--output", "-o")
        {
            Description = "table (for people) or json (for scripts)",
            Recursive = true,
            DefaultValueFactory = _ => "table",
        };
        Output.AcceptOnlyFromAmong("table", "json");
    }

    public Option<string> Server { get; }

    public Option<string?> ApiKey { get; }

    public Option<string> Output { get; }

    public IEnumerable<Option> All => [Server, ApiKey, Output];

    public CliTerminal Terminal { get; }

    public string LastServer { get; private set; } = CliApp.DefaultServer;

    public bool Json(ParseResult parsed) => parsed.GetValue(Output) == "json";

    /// <summary>A client for the hub the options name.</summary>
    public MissionHubClient Connect(ParseResult parsed)
    {
        var server = parsed.GetValue(Server) ?? CliApp.DefaultServer;
        LastServer = server;
        if (!Uri.TryCreate(server, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new UsageException($"--server '{server}' is not an http(s) URL, e.g. {CliApp.DefaultServer}");
        }
        return new MissionHubClient(new MissionHubClientOptions { Server = uri, ApiKey = parsed.GetValue(ApiKey) });
    }
}
