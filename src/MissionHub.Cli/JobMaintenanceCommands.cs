using System.CommandLine;
using MissionHub.Client;

namespace MissionHub.Cli;

/// <summary>
/// <c>missionhub jobs retry &lt;id&gt;</c>, and the bulk <c>jobs retry</c> and <c>jobs purge</c> over the filters of
/// <c>jobs list</c>. A bulk change asks first: <c>--yes</c>, or a "y" typed at the terminal.
/// </summary>
internal static class JobMaintenanceCommands
{
    private static readonly string[] Retryable = [JobStatuses.Failed, JobStatuses.Cancelled];
    private static readonly string[] Finished = [JobStatuses.Completed, JobStatuses.Failed, JobStatuses.Cancelled];

    public static void AddTo(Command jobs, GlobalOptions globals, TextWriter output, TextWriter error)
    {
        jobs.Subcommands.Add(CreateRetry(globals, output, error));
        jobs.Subcommands.Add(CreatePurge(globals, output, error));
    }

    private static Command CreateRetry(GlobalOptions globals, TextWriter output, TextWriter error)
    {
        var retry = new Command("retry", "Send a failed or cancelled job back to pending (attempts from zero again); without an id, every one matching the filters");
        var id = new Argument<string?>("id") { Description = "the job's id; leave out to retry by --status, --job-type and --worker", Arity = ArgumentArity.ZeroOrOne };
        var filters = new BulkFilters("failed or cancelled (default both)", Retryable);
        retry.Arguments.Add(id);
        filters.AddTo(retry);
        retry.SetAction(async (parsed, cancellationToken) =>
        {
            using var hub = globals.Connect(parsed);
            if (parsed.GetValue(id) is { } jobId)
            {
                if (filters.Any(parsed))
                {
                    throw new UsageException("give a job id or filters (--status, --job-type, --worker), not both");
                }
                await JobsCommand.ShowAsync(await hub.Jobs.RetryAsync(jobId, cancellationToken), globals.Json(parsed), output);
                return ExitCodes.Ok;
            }
            var what = "retry every " + filters.Describe(parsed, "failed or cancelled");
            if (!await ConfirmedAsync(globals, parsed.GetValue(filters.Yes), what, error, cancellationToken))
            {
                return ExitCodes.Failed;
            }
            var (status, jobType, worker, since) = filters.Values(parsed);
            var change = await new Render(error, globals.Terminal.ErrorIsTerminal).WhileAsync(
                "retrying…", () => hub.Jobs.RetryMatchingAsync(status, jobType, worker, since, cancellationToken: cancellationToken));
            await new Render(output).JsonOrLineAsync(globals.Json(parsed), change, CliJsonContext.Default.BulkJobResult, $"retried {Jobs(change.Retried)}");
            return ExitCodes.Ok;
        });
        return retry;
    }

    private static Command CreatePurge(GlobalOptions globals, TextWriter output, TextWriter error)
    {
        var purge = new Command("purge", "Remove every finished job matching the filters, for good");
        var filters = new BulkFilters("completed, failed or cancelled (default all three)", Finished);
        filters.AddTo(purge);
        purge.SetAction(async (parsed, cancellationToken) =>
        {
            using var hub = globals.Connect(parsed);
            var what = "purge every " + filters.Describe(parsed, "finished");
            if (!await ConfirmedAsync(globals, parsed.GetValue(filters.Yes), what, error, cancellationToken))
            {
                return ExitCodes.Failed;
            }
            var (status, jobType, worker, since) = filters.Values(parsed);
            var change = await new Render(error, globals.Terminal.ErrorIsTerminal).WhileAsync(
                "purging…", () => hub.Jobs.PurgeMatchingAsync(status, jobType, worker, since, cancellationToken: cancellationToken));
            await new Render(output).JsonOrLineAsync(globals.Json(parsed), change, CliJsonContext.Default.BulkJobResult, $"purged {Jobs(change.Purged)}");
            return ExitCodes.Ok;
        });
        return purge;
    }

    /// <summary>
    /// True with <c>--yes</c> or a "y" at the terminal; false when the person declines. With nobody to ask (stdin is not a
    /// terminal) it refuses rather than guess, so a script that forgot <c>--yes</c> changes nothing.
    /// </summary>
    private static async Task<bool> ConfirmedAsync(GlobalOptions globals, bool yes, string what, TextWriter error, CancellationToken cancellationToken)
    {
        if (yes)
        {
            return true;
        }
        if (globals.Terminal.Keyboard is not { } keyboard)
        {
            throw new UsageException($"{what} needs confirmation: pass --yes (stdin is not a terminal to ask on)");
        }
        await error.WriteAsync($"{what}? [y/N] ");
        await error.FlushAsync(cancellationToken);
        var answer = (await keyboard.ReadLineAsync(cancellationToken))?.Trim();
        if (answer is "y" or "Y" or "yes")
        {
            return true;
        }
        await error.WriteLineAsync("missionhub: not confirmed; nothing changed");
        return false;
    }

    private static string Jobs(int count) => count == 1 ? "1 job" : $"{count} jobs";

    /// <summary>The filters a bulk change takes, as <c>GET /api/jobs</c> names them, and <c>--yes</c>.</summary>
    private sealed class BulkFilters
    {
        public BulkFilters(string statusDescription, string[] statuses)
        {
            Status = new Option<string?>("--status") { Description = statusDescription };
            Status.AcceptOnlyFromAmong(statuses);
            FinishedWithin.Validators.Add(result =>
            {
                if (result.GetValueOrDefault<string?>() is { } span && ParseSpan(span) is null)
                {
                    result.AddError($"--finished-within must be a span such as 90s, 30m, 1h or 7d, not '{span}'");
                }
            });
        }

        public Option<string?> Status { get; }

        public Option<string?> JobType { get; } = new("--job-type", "--type") { Description = "only this job type" };

        public Option<string?> Worker { get; } = new("--worker") { Description = "only jobs this worker last held" };

        public Option<string?> FinishedWithin { get; } = new("--finished-within")
        {
            Description = "only jobs that finished within this span before now: 90s, 30m, 1h, 7d",
        };

        public Option<bool> Yes { get; } = new("--yes", "-y") { Description = "do it without asking" };

        public void AddTo(Command command)
        {
            foreach (var option in new Option[] { Status, JobType, Worker, FinishedWithin, Yes })
            {
                command.Options.Add(option);
            }
        }

        public bool Any(ParseResult parsed) => Values(parsed) is not (null, null, null, null);

        /// <summary>The filters as the bulk endpoints take them; the span becomes <c>finished_since</c> (Unix seconds).</summary>
        public (string? Status, string? JobType, string? Worker, double? FinishedSince) Values(ParseResult parsed) =>
            (parsed.GetValue(Status), parsed.GetValue(JobType), parsed.GetValue(Worker),
                parsed.GetValue(FinishedWithin) is { } span ? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 - ParseSpan(span)!.Value.TotalSeconds : null);

        /// <summary>"failed job of type render held by w-1 finished within 1h": the jobs the change will touch, for the question.</summary>
        public string Describe(ParseResult parsed, string anyStatus)
        {
            var (status, jobType, worker, _) = Values(parsed);
            return $"{status ?? anyStatus} job" + (jobType is null ? "" : $" of type {jobType}") + (worker is null ? "" : $" last held by {worker}")
                + (parsed.GetValue(FinishedWithin) is { } span ? $" finished within {span}" : "");
        }

        /// <summary>90s, 30m, 1h, 7d (a positive whole number and a unit).</summary>
        private static TimeSpan? ParseSpan(string text) =>
            text.Length >= 2 && long.TryParse(text.AsSpan(0, text.Length - 1), System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out var n) && n is > 0 and <= 1_000_000
                ? text[^1] switch
                {
                    's' => TimeSpan.FromSeconds(n),
                    'm' => TimeSpan.FromMinutes(n),
                    'h' => TimeSpan.FromHours(n),
                    'd' => TimeSpan.FromDays(n),
                    _ => null,
                }
                : null;
    }
}
