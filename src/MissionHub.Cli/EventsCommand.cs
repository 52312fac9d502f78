using System.CommandLine;
using System.Globalization;

namespace MissionHub.Cli;

/// <summary><c>missionhub events tail</c>: follows the SSE stream, resuming with Last-Event-ID after a drop.</summary>
internal static class EventsCommand
{
    public static Command Create(GlobalOptions globals, TextWriter output, TextWriter error)
    {
        var events = new Command("events", "The event stream");
        var tail = new Command("tail", "Follow the event stream live (resumes without a gap after a drop or a hub restart)");
        var type = new Option<string?>("--type", "-t") { Description = "type patterns, comma-separated, trailing * (e.g. mission.*,job_completed)" };
        var target = new Option<string?>("--target") { Description = "only events for this target (e.g. mission_42, job_<id>)" };
        var fromSeq = new Option<long?>("--from-seq") { Description = "start after this seq (replays history first); default: from now" };
        var count = new Option<int?>("--count", "-n") { Description = "stop after this many events" };
        count.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is < 1)
            {
                result.AddError("--count must be 1 or more");
            }
        });
        fromSeq.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<long?>() is < 0)
            {
                result.AddError("--from-seq must be 0 or more");
            }
        });
        tail.Options.Add(type);
        tail.Options.Add(target);
        tail.Options.Add(fromSeq);
        tail.Options.Add(count);
        tail.SetAction(async (parsed, cancellationToken) =>
        {
            using var hub = globals.Connect(parsed);
            string? resumeFrom = null;
            if (parsed.GetValue(fromSeq) is { } after)
            {
                var health = await hub.Events.GetHealthAsync(cancellationToken);
                resumeFrom = string.Create(CultureInfo.InvariantCulture, $"{health.Epoch}:{after}");
            }
            var limit = parsed.GetValue(count);
            var json = globals.Json(parsed);
            var render = new Render(output);
            hub.Events.Reconnecting += (_, e) =>
                error.WriteLine($"missionhub: event stream dropped ({CliApp.OneLine(e.Reason)}); reconnecting in {e.RetryIn.TotalSeconds:0.#} s");
            var seen = 0;
            await foreach (var item in hub.Events.StreamAsync(parsed.GetValue(type), parsed.GetValue(target), resumeFrom, cancellationToken: cancellationToken))
            {
                if (item.Reset is { } reset)
                {
                    await error.WriteLineAsync($"missionhub: the stream could not resume without a gap ({reset.Reason}); continuing from seq {reset.LastSeq} of epoch {reset.Epoch}");
                    continue;
                }
                var evt = item.Event!;
                if (json)
                {
                    await render.JsonAsync(evt, CliJsonContext.Default.EventEnvelope);
                }
                else
                {
                    await output.WriteLineAsync(string.Join("  ", evt.Seq.ToString(CultureInfo.InvariantCulture), Render.Time(evt.Timestamp), evt.Type, evt.Target ?? "-", Render.Compact(evt.Payload)));
                    await output.FlushAsync(cancellationToken);
                }
                if (++seen == limit)
                {
                    break;
                }
            }
            return ExitCodes.Ok;
        });
        events.Subcommands.Add(tail);
        return events;
    }
}
