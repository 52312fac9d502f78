using Microsoft.Extensions.Options;
using MissionHub.Events;

namespace MissionHub.History;

/// <summary>What a chain read looks for: events of one correlation id or one W3C trace id, at or after <see cref="Since"/>.</summary>
public sealed record ChainQuery(string? CorrelationId, string? TraceId, double? Since, int Limit);

/// <summary>
/// The events found, in seq order. <see cref="ScanCapped"/>: only the events from <see cref="ScannedFromSeq"/> on were
/// examined (the log cannot look the id up), so older ones may exist; pass <c>since</c> to look further back.
/// </summary>
public sealed record EventChain(string Epoch, IReadOnlyList<CharterEvent> Events, bool ScanCapped, long ScannedFromSeq, long LastSeq);

/// <summary>Finds one action's events in the log.</summary>
public interface IEventChainReader
{
    Task<EventChain> ReadChainAsync(ChainQuery query, CancellationToken cancellationToken);
}

/// <summary>
/// For a log without an index by correlation id (the Redis Stream): examines the newest
/// <see cref="HistoryOptions.ChainScanWindow"/> events (or those since <c>since</c>, up to that many) and keeps the matches.
/// </summary>
public sealed class WindowedEventChainReader(IEventLog log, IOptions<HistoryOptions> options) : IEventChainReader
{
    public async Task<EventChain> ReadChainAsync(ChainQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var window = options.Value.ChainScanWindow;
        var position = await log.ReadAsync(new EventQuery(log.LastSeq, Limit: 1) { SkipRemoved = true }, cancellationToken);
        var after = Math.Max(position.LastSeq - window, position.FirstSeq - 1);
        if (query.Since is { } since)
        {
            var first = await log.ReadAsync(new EventQuery(0, Since: since, Limit: 1) { FromOldestRetained = true, SkipRemoved = true }, cancellationToken);
            after = first.Events.Count == 0 ? position.LastSeq : first.Events[0].Seq - 1;
        }
        var scannedFrom = after + 1;
        var end = Math.Min(position.LastSeq, after + window);
        var found = new List<CharterEvent>();
        while (after < end && found.Count < query.Limit)
        {
            var page = await log.ReadAsync(
                new EventQuery(after, Limit: (int)Math.Min(StateHistory.ReplayPage, end - after), Epoch: position.Epoch) { SkipRemoved = true },
                cancellationToken);
            if (!page.Recovered || page.Events.Count == 0)
            {
                break;
            }
            found.AddRange(page.Events.Where(e => e.Seq <= end && Matches(query, e)));
            after = page.Events[^1].Seq;
        }
        // Capped when events before the window were not examined, or the window ended before the log did.
        var capped = scannedFrom > position.FirstSeq || end < position.LastSeq;
        return new EventChain(position.Epoch, [.. found.Take(query.Limit)], capped, scannedFrom, position.LastSeq);
    }

    internal static bool Matches(ChainQuery query, CharterEvent evt) =>
        query.CorrelationId is { } id
            ? evt.Meta.CorrelationId == id
            : query.TraceId is { } trace && TraceIdOf(evt.Meta.Traceparent) == trace;

    /// <summary>The trace id of a W3C traceparent (<c>00-&lt;trace id&gt;-&lt;span id&gt;-&lt;flags&gt;</c>).</summary>
    internal static string? TraceIdOf(string? traceparent) =>
        traceparent is { Length: >= 55 } && traceparent[2] == '-' ? traceparent.Substring(3, 32) : null;
}
