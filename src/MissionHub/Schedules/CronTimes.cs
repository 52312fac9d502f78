using Cronos;

namespace MissionHub.Schedules;

/// <summary>
/// A schedule's cron expression in its IANA time zone, as Cronos reads it: five fields, or six with seconds first (or a
/// macro such as <c>@hourly</c>). Daylight saving transitions are Cronos's: a tick in the hour that is skipped runs at the
/// transition, a tick in the hour that repeats runs once (an interval schedule such as every 10 minutes runs in both).
/// </summary>
public sealed class CronTimes
{
    private readonly CronExpression _expression;
    private readonly TimeZoneInfo _zone;

    private CronTimes(CronExpression expression, TimeZoneInfo zone)
    {
        _expression = expression;
        _zone = zone;
    }

    /// <summary>Reads <paramref name="cron"/> in <paramref name="timeZone"/>; on failure <paramref name="field"/> and <paramref name="error"/> say which and why.</summary>
    public static bool TryParse(string cron, string timeZone, out CronTimes times, out string field, out string error)
    {
        times = null!;
        field = "";
        error = "";
        var fields = cron.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        var format = fields == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard;
        if (!cron.StartsWith('@') && fields is not (5 or 6))
        {
            (field, error) = ("cron", $"cron must have 5 fields (minute hour day month weekday) or 6 with seconds first, not {fields}");
            return false;
        }
        if (!CronExpression.TryParse(cron, format, out var expression))
        {
            (field, error) = ("cron", $"cron '{cron}' is not a valid cron expression (e.g. \"0 3 * * *\", or \"*/10 * * * * *\" with seconds)");
            return false;
        }
        TimeZoneInfo zone;
        try
        {
            zone = TimeZoneInfo.FindSystemTimeZoneById(timeZone);
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            (field, error) = ("time_zone", $"time_zone '{timeZone}' is not a known IANA time zone (e.g. \"UTC\", \"Europe/Berlin\")");
            return false;
        }
        times = new CronTimes(expression, zone);
        return true;
    }

    /// <summary>The first tick after <paramref name="unixSeconds"/> (not at it); null when the expression never fires again.</summary>
    public double? NextAfter(double unixSeconds) =>
        _expression.GetNextOccurrence(ToUtc(unixSeconds), _zone, inclusive: false) is { } next ? ToUnix(next) : null;

    /// <summary>Ticks from <paramref name="fromInclusive"/> up to <paramref name="toInclusive"/>, counting at most <paramref name="cap"/>.</summary>
    public int CountBetween(double fromInclusive, double toInclusive, int cap)
    {
        var count = 0;
        foreach (var _ in _expression.GetOccurrences(ToUtc(fromInclusive), ToUtc(toInclusive), _zone, fromInclusive: true, toInclusive: true))
        {
            if (++count >= cap)
            {
                break;
            }
        }
        return count;
    }

    private static DateTime ToUtc(double unixSeconds) =>
        DateTime.SpecifyKind(DateTime.UnixEpoch.AddTicks((long)Math.Round(unixSeconds * TimeSpan.TicksPerSecond)), DateTimeKind.Utc);

    private static double ToUnix(DateTime utc) => (utc - DateTime.UnixEpoch).Ticks / (double)TimeSpan.TicksPerSecond;
}
