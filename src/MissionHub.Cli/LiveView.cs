using System.CommandLine;
using System.Globalization;
using System.Threading.Channels;
using MissionHub.Client;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace MissionHub.Cli;

/// <summary>
/// <c>--watch</c>: a Spectre live view of one of the hub's own snapshots (the agent list, the status report), re-read when
/// the event stream says something it shows has changed, and every --interval seconds regardless so heartbeat times stay fresh
/// and a stream that is reconnecting never freezes the view. It re-reads rather than applying events itself because the
/// server already projects them; a second projection here would be one more to keep in step. Ctrl+C ends it with exit 0.
/// </summary>
internal static class LiveView
{
    /// <summary>A burst of events (a batch of jobs finishing) becomes one re-read.</summary>
    private static readonly TimeSpan Coalesce = TimeSpan.FromMilliseconds(500);

    /// <param name="eventTypes">
    /// The event types that change what <paramref name="read"/> shows. They must not include what reading emits itself
    /// (<c>supervisor.*</c>): the view would re-read forever.
    /// </param>
    /// <param name="refreshAtLeastEvery">How long the view may go without a re-read when no event comes.</param>
    public static async Task<int> RunAsync(
        MissionHubClient hub, Render render, string eventTypes, TimeSpan refreshAtLeastEvery, Func<CancellationToken, Task<IRenderable>> read,
        CancellationToken cancellationToken)
    {
        var changes = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        using var stopFollowing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var follow = FollowAsync(hub.Events, eventTypes, changes.Writer, stopFollowing.Token);
        try
        {
            var first = Frame(await read(cancellationToken));
            await render.Ansi.Live(first).AutoClear(false).StartAsync(async live =>
            {
                live.Refresh(); // Spectre draws the first target only on a refresh
                while (true)
                {
                    await WaitForChangeAsync(changes.Reader, follow, refreshAtLeastEvery, cancellationToken);
                    if (follow.IsFaulted)
                    {
                        await follow; // a stream the hub refuses (401, 403) ends the watch with its error
                    }
                    live.UpdateTarget(Frame(await read(cancellationToken)));
                    live.Refresh();
                }
            });
            return ExitCodes.Ok;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Ok;
        }
        finally
        {
            await stopFollowing.CancelAsync();
            await follow.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing); // its failure, if any, was thrown above
        }
    }

    /// <summary>Flags a change for every event; ends only when stopped or when the hub refuses the stream (it reconnects by itself).</summary>
    private static async Task FollowAsync(EventsClient events, string eventTypes, ChannelWriter<bool> changes, CancellationToken cancellationToken)
    {
        await foreach (var _ in events.StreamAsync(eventTypes, cancellationToken: cancellationToken))
        {
            changes.TryWrite(true);
        }
    }

    /// <summary>Returns when something changed (after letting a burst settle), when it is time to refresh anyway, or when following failed.</summary>
    private static async Task WaitForChangeAsync(ChannelReader<bool> changes, Task follow, TimeSpan refreshAtLeastEvery, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(refreshAtLeastEvery);
        var changed = changes.WaitToReadAsync(limit.Token).AsTask();
        await Task.WhenAny(changed, follow);
        cancellationToken.ThrowIfCancellationRequested();
        if (changed.IsCompletedSuccessfully)
        {
            await Task.Delay(Coalesce, cancellationToken);
            changes.TryRead(out _);
        }
    }

    /// <summary><c>--watch</c> and <c>--interval</c>, as workers, agents and status take them.</summary>
    public static (Option<bool> Watch, Option<double> Interval) CreateOptions(string what)
    {
        var watch = new Option<bool>("--watch", "-w") { Description = $"keep the {what} live until Ctrl+C (on a terminal; otherwise one snapshot)" };
        var interval = new Option<double>("--interval") { Description = "with --watch: seconds between re-reads when no event says something changed", DefaultValueFactory = _ => 5 };
        interval.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double>() is not (>= 0.5 and <= 3600))
            {
                result.AddError("--interval must be 0.5 to 3600 seconds");
            }
        });
        return (watch, interval);
    }

    private static Rows Frame(IRenderable content) => new(
        content,
        new Text($"updated {DateTime.UtcNow.ToString("HH:mm:ss", CultureInfo.InvariantCulture)} UTC · Ctrl+C to stop", new Style(Color.Grey)));
}
