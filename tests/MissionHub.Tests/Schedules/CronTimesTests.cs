using MissionHub.Schedules;

namespace MissionHub.Tests.Schedules;

/// <summary>
/// The schedule clock on given instants (the clock injected as the times asked about): cron with and without seconds,
/// IANA time zones, and both daylight saving transitions in Europe/Berlin as Cronos defines them — a daily tick in the
/// hour that is skipped runs at the transition, one in the hour that repeats runs once, an interval runs through both.
/// </summary>
public sealed class CronTimesTests
{
    private static double At(string utc) => DateTimeOffset.Parse(utc, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeSeconds();

    private static CronTimes Parse(string cron, string zone = "UTC")
    {
        Assert.True(CronTimes.TryParse(cron, zone, out var times, out var field, out var error), $"{field}: {error}");
        return times;
    }

    [Fact]
    public void SixFields_TickEverySecond_FiveFieldsEveryMinute_AndNextIsAfterNotAt()
    {
        Assert.Equal(At("2026-12-02T10:00:01Z"), Parse("* * * * * *").NextAfter(At("2026-12-02T10:00:00Z")));
        Assert.Equal(At("2026-12-02T10:01:00Z"), Parse("* * * * *").NextAfter(At("2026-12-02T10:00:00Z")));
        Assert.Equal(At("2026-12-02T10:00:00Z"), Parse("* * * * *").NextAfter(At("2026-12-02T09:59:59.5Z")));
        Assert.Equal(60, Parse("* * * * * *").CountBetween(At("2026-12-02T10:00:00Z"), At("2026-12-02T10:00:59Z"), cap: 1000));
        Assert.Equal(10, Parse("* * * * * *").CountBetween(At("2026-12-02T10:00:00Z"), At("2026-12-02T10:00:59Z"), cap: 10));
    }

    [Fact]
    public void DailyTickInBerlin_FollowsTheOffset_AcrossTheYear()
    {
        var threeAm = Parse("0 3 * * *", "Europe/Berlin");
        Assert.Equal(At("2026-12-03T02:00:00Z"), threeAm.NextAfter(At("2026-12-02T12:00:00Z")));
        Assert.Equal(At("2026-07-02T01:00:00Z"), threeAm.NextAfter(At("2026-07-01T12:00:00Z")));
    }

    [Fact]
    public void SpringForward_ATickInTheSkippedHour_RunsAtTheTransition_Once()
    {
        // 2026-03-29 in Berlin: 02:00 CET becomes 03:00 CEST (01:00 UTC); 02:30 does not exist that day.
        var halfPastTwo = Parse("0 30 2 * * *", "Europe/Berlin");
        var first = halfPastTwo.NextAfter(At("2026-03-28T12:00:00Z"))!.Value;
        Assert.Equal(At("2026-03-29T01:00:00Z"), first);
        Assert.Equal(At("2026-03-30T00:30:00Z"), halfPastTwo.NextAfter(first));
    }

    [Fact]
    public void FallBack_ATickInTheRepeatedHour_RunsOnce_AndAnIntervalRunsThroughBoth()
    {
        // 2026-10-25 in Berlin: 03:00 CEST becomes 02:00 CET (01:00 UTC); 02:00-03:00 local happens twice.
        var halfPastTwo = Parse("0 30 2 * * *", "Europe/Berlin");
        var first = halfPastTwo.NextAfter(At("2026-10-24T12:00:00Z"))!.Value;
        Assert.Equal(At("2026-10-25T00:30:00Z"), first);
        Assert.Equal(At("2026-10-26T01:30:00Z"), halfPastTwo.NextAfter(first));

        var everyHalfHour = Parse("0 */30 * * * *", "Europe/Berlin");
        var ticks = new List<double>();
        var at = At("2026-10-24T23:59:00Z");
        for (var i = 0; i < 6; i++)
        {
            at = everyHalfHour.NextAfter(at)!.Value;
            ticks.Add(at);
        }
        Assert.Equal(Enumerable.Range(0, 6).Select(k => At("2026-10-25T00:00:00Z") + k * 1800.0), ticks);
    }

    [Theory]
    [InlineData("* * * *", "UTC", "cron")]
    [InlineData("* * * * * * *", "UTC", "cron")]
    [InlineData("*/0 * * * *", "UTC", "cron")]
    [InlineData("* * * * *", "Nowhere/Land", "time_zone")]
    public void BadCronOrZone_NamesTheField(string cron, string zone, string field)
    {
        Assert.False(CronTimes.TryParse(cron, zone, out _, out var named, out var error));
        Assert.Equal(field, named);
        Assert.False(string.IsNullOrWhiteSpace(error));
    }
}
