using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using MissionHub.ApiDocs;
using MissionHub.Auth;
using MissionHub.Infrastructure;

namespace MissionHub.Telemetry;

/// <summary><c>/api/telemetry</c>: the robot socket, the robots, their latest metrics and their history (spec 004).</summary>
public static class TelemetryApi
{
    /// <summary>The default history window when <c>from</c> is not given.</summary>
    public static readonly TimeSpan DefaultHistoryWindow = TimeSpan.FromHours(1);

    /// <summary>Buckets in a history answer when <c>step</c> is not given.</summary>
    public const int DefaultHistoryBuckets = 60;

    public static IEndpointRouteBuilder MapTelemetryApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/telemetry").WithTags("Telemetry");
        // The robot socket is for robots (matching ids only); everything else is for viewers.
        group.Map("/ws/{robot_id}", AcceptRobotAsync).RequireAuthorization(Policies.Robot);
        // Only so a socket opened without a robot id is told why: not an API of its own.
        group.Map("/ws", () => InvalidRobotId()).RequireAuthorization(Policies.Robot).ExcludeFromDescription();
        var robots = group.MapGroup("/robots").RequireAuthorization(Policies.Viewer);
        robots.MapGet("/", ListRobots).WithSummary("Every robot connected or heard from recently");
        robots.MapGet("/{robot_id}/metrics", GetMetricsAsync)
            .WithSummary("A robot's latest metrics (emits telemetry.metrics_published)")
            .WithProblems(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound)
            .WithExamples(response: """{"robot_id": "robot-7", "state": "online", "metrics": {"cpu_usage": 45.2, "memory_usage": 62.8, "network_latency_ms": 12.5, "battery_percentage": 78.0}, "extra": {}, "timestamp": 1703001234.567}""");
        robots.MapGet("/{robot_id}/history", GetHistoryAsync)
            .WithSummary("A robot's time series in buckets of step seconds (min, avg, max per metric)")
            .WithNumberQuery("from", "Unix seconds; default one hour before to")
            .WithNumberQuery("to", "Unix seconds; default now")
            .WithNumberQuery("step", "bucket width in seconds; default (to - from) / 60")
            .WithProblems(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
        return app;
    }

    internal static async Task AcceptRobotAsync(
        HttpContext context, string robot_id, TelemetryService service, TimeProvider time, IHostApplicationLifetime lifetime, ILoggerFactory loggers)
    {
        if (!TelemetryConnection.IsValidRobotId(robot_id))
        {
            await InvalidRobotId().ExecuteAsync(context);
            return;
        }
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await Problems.Invalid("Upgrade", "/api/telemetry/ws/{robot_id} speaks WebSocket: connect with a WebSocket client").ExecuteAsync(context);
            return;
        }
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        using var connection = new TelemetryConnection(robot_id, socket, service, time, loggers.CreateLogger("MissionHub.Telemetry.TelemetryConnection"));
        await connection.RunAsync(context.RequestAborted, lifetime.ApplicationStopping);
    }

    internal static Ok<RobotList> ListRobots(TelemetryService service)
    {
        var robots = service.ListRobots();
        return TypedResults.Ok(new RobotList(robots, robots.Count));
    }

    internal static async Task<Results<Ok<RobotMetricsResponse>, ProblemHttpResult>> GetMetricsAsync(
        string robot_id, TelemetryService service, CancellationToken cancellationToken)
    {
        if (!TelemetryConnection.IsValidRobotId(robot_id))
        {
            return InvalidRobotId();
        }
        if (!service.IsKnown(robot_id))
        {
            return Problems.NotFound($"no robot with id '{robot_id}' has connected");
        }
        return service.PublishLatest(robot_id) is { } metrics
            ? TypedResults.Ok(metrics)
            : Problems.NotFound($"robot '{robot_id}' has connected but sent no telemetry yet");
    }

    internal static async Task<Results<Ok<RobotHistory>, ProblemHttpResult>> GetHistoryAsync(
        string robot_id, HttpRequest request, TelemetryService service, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!TelemetryConnection.IsValidRobotId(robot_id))
        {
            return InvalidRobotId();
        }
        var query = request.Query;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0;
        if (!TryParseTime(query["to"], now, out var to))
        {
            return Problems.Invalid("to", "to must be a Unix time in seconds, e.g. 1703005678.9");
        }
        if (!TryParseTime(query["from"], to - DefaultHistoryWindow.TotalSeconds, out var from))
        {
            return Problems.Invalid("from", "from must be a Unix time in seconds, e.g. 1703002078.9");
        }
        if (from > to)
        {
            return Problems.Invalid("from", $"from ({Format(from)}) is after to ({Format(to)})");
        }
        var maxBuckets = service.Options.MaxHistoryBuckets;
        double step;
        var stepText = query["step"].ToString();
        if (stepText.Length == 0)
        {
            step = Math.Max((to - from) / DefaultHistoryBuckets, 0.001);
        }
        else if (!double.TryParse(stepText, NumberStyles.Float, CultureInfo.InvariantCulture, out step) || !double.IsFinite(step) || step <= 0)
        {
            return Problems.Invalid("step", "step must be a positive number of seconds, e.g. 60");
        }
        if ((to - from) / step > maxBuckets)
        {
            return Problems.Invalid("step", $"step {Format(step)} s would make more than {maxBuckets} buckets for this range; use a larger step");
        }
        if (!service.IsKnown(robot_id))
        {
            var history = await service.HistoryAsync(robot_id, from, to, step, cancellationToken);
            return history.SampleCount > 0 ? TypedResults.Ok(history) : Problems.NotFound($"no robot with id '{robot_id}' has connected");
        }
        return TypedResults.Ok(await service.HistoryAsync(robot_id, from, to, step, cancellationToken));
    }

    private static ProblemHttpResult InvalidRobotId() =>
        Problems.Invalid("robot_id", "robot_id must be 1 to 128 letters, digits, '-', '_' or '.'");

    private static bool TryParseTime(Microsoft.Extensions.Primitives.StringValues value, double fallback, out double time)
    {
        var text = value.ToString();
        if (text.Length == 0)
        {
            time = fallback;
            return true;
        }
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out time) && double.IsFinite(time) && time >= 0;
    }

    private static string Format(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}
