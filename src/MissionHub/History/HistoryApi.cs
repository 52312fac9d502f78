using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using MissionHub.ApiDocs;
using MissionHub.Auth;
using MissionHub.Infrastructure;

namespace MissionHub.History;

/// <summary><c>GET /api/state</c> (the console at a seq) and <c>GET /api/events/chain</c> (one action end to end).</summary>
public static class HistoryApi
{
    /// <summary>The rebuilds, the checkpoint writer and their options. Needs events, jobs, missions and the monitor read model.</summary>
    public static IHostApplicationBuilder AddMissionHubHistory(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<HistoryOptions>().BindConfiguration(HistoryOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<HistoryOptions>, HistoryOptionsValidator>());
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, HistoryJsonContext.Default));
        services.TryAddSingleton<StateHistory>();
        services.TryAddSingleton<CheckpointWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<CheckpointWriter>());
        return builder;
    }

    public static IEndpointRouteBuilder MapHistoryEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/state", GetStateAsync).WithTags("History").RequireAuthorization(Policies.Viewer)
            .WithSummary("The whole console (jobs, counts, workers, robots, missions) as it was right after event at_seq, rebuilt from the nearest stored checkpoint and the events after it; without at_seq or at_time, as of the last seq")
            .WithQuery(("at_seq", "the seq to rebuild at (default: the last seq)"),
                ("at_time", "instead of at_seq: the last event at or before this Unix time (seconds)"))
            .WithProblems(StatusCodes.Status400BadRequest)
            .WithExamples(response: """{"epoch": "9f3c0b7e2a1d4c55", "seq": 42, "timestamp": 1703001234.567, "first_seq": 1, "last_seq": 97, "checkpoint_seq": 0, "jobs": {"pending": [], "active": [], "completed": [], "failed": []}, "counts": {"pending": 0, "assigned": 0, "running": 0, "completed": 0, "failed": 0, "cancelled": 0, "total": 0}, "workers": {}, "robots": {}, "missions": [{"id": "m1", "name": "Survey", "status": "RUNNING", "updated_at": 1703001230.1}]}""");
        app.MapGet("/api/events/chain", GetChainAsync).WithTags("Events").RequireAuthorization(Policies.Viewer)
            .WithSummary("Every event of one action (meta.correlation_id, or the trace id of meta.traceparent) in seq order, with elapsed_ms since the first and since_previous_ms; scan_capped: true when only the newest events were examined (Redis) — pass since to look further back")
            .WithQuery(("correlation_id", "the X-Correlation-ID of the action"), ("traceparent", "a W3C traceparent or a 32-hex trace id, instead of correlation_id"),
                ("since", "only events at or after this Unix time (seconds)"), ("limit", "most events listed (default and maximum: MissionHub:History:MaxChainEvents)"))
            .WithProblems(StatusCodes.Status400BadRequest);
        return app;
    }

    internal static async Task<Results<Ok<StateResponse>, ProblemHttpResult>> GetStateAsync(
        HttpContext context, StateHistory history, CancellationToken cancellationToken)
    {
        var query = context.Request.Query;
        var position = await history.PositionAsync(cancellationToken);
        long seq = position.LastSeq;
        var field = "at_seq";
        if (Text(query, "at_seq") is { } seqText)
        {
            if (!long.TryParse(seqText, NumberStyles.None, CultureInfo.InvariantCulture, out seq))
            {
                return Problems.Invalid("at_seq", $"at_seq must be a whole number of 0 or more, not '{seqText}'");
            }
        }
        else if (Text(query, "at_time") is { } timeText)
        {
            field = "at_time";
            if (!double.TryParse(timeText, NumberStyles.Float, CultureInfo.InvariantCulture, out var time) || !double.IsFinite(time) || time < 0)
            {
                return Problems.Invalid("at_time", $"at_time must be a Unix timestamp in seconds (e.g. 1703001234.5), not '{timeText}'");
            }
            seq = await history.SeqAtTimeAsync(time, position, cancellationToken);
        }
        if (seq <= position.LastSeq && await history.RebuildAsync(position.Epoch, seq, cancellationToken) is { } state)
        {
            return TypedResults.Ok(state.ToResponse(position.FirstSeq, position.LastSeq, state.BaseSeq));
        }
        var oldest = await history.OldestAnswerableAsync(position.Epoch, cancellationToken);
        var range = oldest is { } from
            ? string.Create(CultureInfo.InvariantCulture, $"seqs {from} to {position.LastSeq} can be answered")
            : "no seq can be answered until the next checkpoint is stored";
        var what = field == "at_seq" ? $"at_seq {seq}" : $"at_time {Text(query, "at_time")} (seq {seq})";
        var why = seq > position.LastSeq ? $"is beyond the last seq {position.LastSeq}" : "is before the oldest state that can be rebuilt (retention removed the events before it)";
        return Problems.Invalid(field, $"{what} {why} of epoch '{position.Epoch}': {range}", new Dictionary<string, object?>
        {
            ["min_seq"] = oldest,
            ["max_seq"] = position.LastSeq,
            ["epoch"] = position.Epoch,
        });
    }

    internal static async Task<Results<Ok<EventChainResponse>, ProblemHttpResult>> GetChainAsync(
        HttpContext context, IEventChainReader chains, IOptions<HistoryOptions> options, CancellationToken cancellationToken)
    {
        var query = context.Request.Query;
        var correlationId = Text(query, "correlation_id");
        var traceText = Text(query, "traceparent");
        if ((correlationId is null) == (traceText is null))
        {
            return Problems.Invalid(correlationId is null ? "correlation_id" : "traceparent", "give either correlation_id or traceparent (not both)");
        }
        if (correlationId is { Length: > CorrelationContext.MaxLength })
        {
            return Problems.Invalid("correlation_id", $"correlation_id is at most {CorrelationContext.MaxLength} characters");
        }
        string? traceId = null;
        if (traceText is not null)
        {
            traceId = traceText.Length == 32 ? traceText : WindowedEventChainReader.TraceIdOf(traceText);
            if (traceId is null || !traceId.All(char.IsAsciiHexDigitLower) || traceId.All(c => c == '0'))
            {
                return Problems.Invalid("traceparent", $"'{traceText}' is neither a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>) nor a 32-hex trace id");
            }
        }
        double? since = null;
        if (Text(query, "since") is { } sinceText)
        {
            if (!double.TryParse(sinceText, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) || !double.IsFinite(s) || s < 0)
            {
                return Problems.Invalid("since", $"since must be a Unix timestamp in seconds (e.g. 1703001234.5), not '{sinceText}'");
            }
            since = s;
        }
        var max = options.Value.MaxChainEvents;
        var limit = max;
        if (Text(query, "limit") is { } limitText
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > max))
        {
            return Problems.Invalid("limit", $"limit must be between 1 and {max}, not '{limitText}'");
        }
        var chain = await chains.ReadChainAsync(new ChainQuery(correlationId, traceId, since, limit), cancellationToken);
        var events = new List<ChainEvent>(chain.Events.Count);
        for (var i = 0; i < chain.Events.Count; i++)
        {
            var evt = chain.Events[i];
            events.Add(ChainEvent.Of(evt,
                Math.Round((evt.Timestamp - chain.Events[0].Timestamp) * 1000, 3),
                i == 0 ? 0 : Math.Round((evt.Timestamp - chain.Events[i - 1].Timestamp) * 1000, 3)));
        }
        return TypedResults.Ok(new EventChainResponse(chain.Epoch, correlationId, traceId, events.Count,
            events.Count == 0 ? null : events[^1].ElapsedMs, chain.ScanCapped, chain.ScannedFromSeq, chain.LastSeq, events));
    }

    private static string? Text(IQueryCollection query, string name) =>
        query[name] is { Count: > 0 } value && !string.IsNullOrEmpty(value[0]) ? value[0] : null;
}
