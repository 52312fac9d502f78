using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using MissionHub.ApiDocs;
using MissionHub.Auth;
using MissionHub.Infrastructure;

namespace MissionHub.Events;

/// <summary><c>GET /api/events</c> (history), <c>GET /api/events/stream</c> (SSE) and <c>GET /api/health</c>.</summary>
public static class EventsApi
{
    public static IEndpointRouteBuilder MapEventsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/events").WithTags("Events").RequireAuthorization(Policies.Viewer);
        group.MapGet("/", GetEventsAsync)
            .WithSummary("Event history in seq order (Charter envelopes, or CloudEvents 1.0 with format=cloudevents). recovered: false when retention removed an event this filter matches from the range read; scan_capped: true when a filter examined 20,000 events without filling the page (continue from next_after_seq)")
            .WithQuery(("after_seq", "events after this seq"), ("since", "events at or after this Unix time (seconds)"),
                ("type", "type patterns, comma-separated, trailing * (mission.*)"), ("target", "only this target"),
                ("limit", "page size"), ("epoch", "the epoch after_seq belongs to; another epoch answers recovered: false"),
                ("format", "charter (default) or cloudevents"))
            .Produces<List<CloudEvent>>(StatusCodes.Status200OK, CloudEvent.BatchMediaType)
            .WithProblems(StatusCodes.Status400BadRequest)
            .WithExamples(response: """{"epoch": "9f3c0b7e2a1d4c55", "recovered": true, "events": [{"id": "e7a8b3c4-d1e2-4f5a-b6c7-8d9e0f1a2b3c", "type": "mission.created", "source": "missions_service", "target": null, "timestamp": 1703001234.567, "payload": {"mission_id": "550e8400-e29b-41d4-a716-446655440000", "name": "Deploy Application v2.0", "description": "Deploy new version to production", "status": "PENDING", "created_at": 1703001234.567}, "meta": {"correlation_id": "trace-1", "version": "1.0"}, "seq": 42}], "next_after_seq": 42, "first_seq": 1, "last_seq": 42, "reason": null, "scan_capped": false}""");
        group.MapGet("/stream", StreamEvents)
            .WithSummary("Live events as Server-Sent Events: id <epoch>:<seq>, event the type, data the envelope; resume with Last-Event-ID")
            .WithQuery(("type", "type patterns, comma-separated, trailing *"), ("target", "only this target"),
                ("last_event_id", "resume point when the Last-Event-ID header cannot be set"))
            .Produces<CharterEvent>(StatusCodes.Status200OK, "text/event-stream")
            .WithProblems(StatusCodes.Status400BadRequest);
        app.MapGet("/api/health", (IEventLog log) =>
            TypedResults.Ok(new HealthResponse("ok", log.Provider, log.Epoch, log.LastSeq))).WithTags("Health").AllowAnonymous()
            .WithSummary("Liveness: the event log's provider, epoch and last seq");
        return app;
    }

    internal static async Task<Results<Ok<EventPage>, JsonHttpResult<List<CloudEvent>>, ProblemHttpResult>> GetEventsAsync(
        HttpContext context, IEventLog log, CancellationToken cancellationToken)
    {
        var query = context.Request.Query;
        if (!TryParseEventQuery(query, out var eventQuery, out var problem))
        {
            return problem;
        }
        var format = query["format"].ToString();
        var wantsCloudEvents = format == "cloudevents"
            || context.Request.Headers.Accept.ToString().Contains(CloudEvent.BatchMediaType, StringComparison.OrdinalIgnoreCase);
        if (format is not ("" or "charter" or "cloudevents"))
        {
            return Problems.Invalid("format", $"format '{format}' is not supported; valid values: charter, cloudevents");
        }

        var page = await log.ReadAsync(eventQuery, cancellationToken);
        if (!wantsCloudEvents)
        {
            return TypedResults.Ok(page);
        }
        // A CloudEvents batch is a bare array: the position travels in headers.
        context.Response.Headers["MissionHub-Epoch"] = page.Epoch;
        context.Response.Headers["MissionHub-Recovered"] = page.Recovered ? "true" : "false";
        context.Response.Headers["MissionHub-Next-After-Seq"] = page.NextAfterSeq.ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["MissionHub-Scan-Capped"] = page.ScanCapped ? "true" : "false";
        return TypedResults.Json(
            page.Events.Select(CloudEvent.From).ToList(), EventsJsonContext.Default.ListCloudEvent, CloudEvent.BatchMediaType);
    }

    internal static IResult StreamEvents(
        HttpContext context, EventBus bus, IOptions<EventLogOptions> options)
    {
        var query = context.Request.Query;
        if (!EventFilter.TryCreate(NullIfEmpty(query["type"]), NullIfEmpty(query["target"]), out var filter, out var error))
        {
            return Problems.Invalid(query.ContainsKey("type") ? "type" : "target", error);
        }
        var lastEventId = NullIfEmpty(context.Request.Headers["Last-Event-ID"]) ?? NullIfEmpty(query["last_event_id"]);
        EventStreamPosition? resumeFrom = null;
        if (lastEventId is not null)
        {
            if (!EventStreamPosition.TryParse(lastEventId, out var position))
            {
                return Problems.Invalid("Last-Event-ID", $"'{lastEventId}' is not an event id of this stream; expected '<epoch>:<seq>'");
            }
            resumeFrom = position;
        }
        return new EventStreamResult(bus, filter, resumeFrom, options.Value.SseKeepAlive);
    }

    /// <summary>Parses the history query, naming the parameter in the problem if one is wrong.</summary>
    internal static bool TryParseEventQuery(IQueryCollection query, out EventQuery eventQuery, out ProblemHttpResult problem)
    {
        eventQuery = new EventQuery();
        problem = null!;
        long? afterSeq = null;
        if (NullIfEmpty(query["after_seq"]) is { } afterText)
        {
            if (!long.TryParse(afterText, NumberStyles.None, CultureInfo.InvariantCulture, out var after))
            {
                problem = Problems.Invalid("after_seq", $"after_seq must be a whole number of 0 or more, not '{afterText}'");
                return false;
            }
            afterSeq = after;
        }
        double? since = null;
        if (NullIfEmpty(query["since"]) is { } sinceText)
        {
            if (!double.TryParse(sinceText, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) || !double.IsFinite(s) || s < 0)
            {
                problem = Problems.Invalid("since", $"since must be a Unix timestamp in seconds (e.g. 1703001234.5), not '{sinceText}'");
                return false;
            }
            since = s;
        }
        var limit = EventQuery.DefaultLimit;
        if (NullIfEmpty(query["limit"]) is { } limitText)
        {
            if (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > EventQuery.MaxLimit)
            {
                problem = Problems.Invalid("limit", $"limit must be between 1 and {EventQuery.MaxLimit}, not '{limitText}'");
                return false;
            }
        }
        if (!EventFilter.TryCreate(NullIfEmpty(query["type"]), NullIfEmpty(query["target"]), out var filter, out var error))
        {
            problem = Problems.Invalid(error.StartsWith("target", StringComparison.Ordinal) ? "target" : "type", error);
            return false;
        }
        var epoch = NullIfEmpty(query["epoch"]);
        if (epoch is { Length: > 64 })
        {
            problem = Problems.Invalid("epoch", "epoch is at most 64 characters");
            return false;
        }
        eventQuery = new EventQuery(afterSeq ?? 0, filter, since, limit, epoch)
        {
            // No after_seq: a plain history read from whatever is retained.
            FromOldestRetained = afterSeq is null,
        };
        return true;
    }

    private static string? NullIfEmpty(Microsoft.Extensions.Primitives.StringValues value) =>
        value.Count == 0 || string.IsNullOrEmpty(value[0]) ? null : value[0];
}

/// <summary>An SSE event id: <c>&lt;epoch&gt;:&lt;seq&gt;</c>.</summary>
public readonly record struct EventStreamPosition(string Epoch, long Seq)
{
    public static bool TryParse(string text, out EventStreamPosition position)
    {
        position = default;
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon > 64
            || !long.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var seq))
        {
            return false;
        }
        position = new EventStreamPosition(text[..colon], seq);
        return true;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Epoch}:{Seq}");
}
