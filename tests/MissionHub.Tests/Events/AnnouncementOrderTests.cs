using MissionHub.Events;
using MissionHub.Storage.Redis;

namespace MissionHub.Tests.Events;

/// <summary>
/// Appends are announced to this process's readers in the order they were sent, whatever order their replies are
/// handled in; a wake-up from the notify channel waits for the appends sent before it.
/// </summary>
public sealed class AnnouncementOrderTests
{
    private readonly List<string> _told = [];

    private AnnouncementOrder NewOrder() => new(
        events => _told.Add("events " + string.Join(",", events.Select(e => e.Seq))),
        seq => _told.Add($"notify {seq}"));

    private static CharterEvent[] Events(params long[] seqs) => [.. seqs.Select(s => EventLogs.Draft("t") with { Seq = s })];

    private static long Send(AnnouncementOrder order) => order.Send(() => Task.FromResult(0), out _);

    [Fact]
    public void RepliesHandledOutOfOrder_AreAnnouncedInTheOrderSent()
    {
        var order = NewOrder();
        var first = Send(order);
        var second = Send(order);
        var third = Send(order);

        order.Done(third, Events(5, 6));
        order.Done(second, Events(3, 4));
        Assert.Empty(_told);
        Assert.Equal(3, order.Pending);

        order.Done(first, Events(1, 2));
        Assert.Equal(["events 1,2", "events 3,4", "events 5,6"], _told);
        Assert.Equal(0, order.Pending);
    }

    [Fact]
    public void AFailedAppend_DoesNotHoldTheOnesAfterIt()
    {
        var order = NewOrder();
        var failed = Send(order);
        var next = Send(order);
        order.Done(next, Events(1));

        order.Done(failed, null);

        Assert.Equal(["events 1"], _told);
    }

    [Fact]
    public void ASendThatThrows_ReleasesItsTicket()
    {
        var order = NewOrder();
        Assert.Throws<InvalidOperationException>(() => order.Send<int>(() => throw new InvalidOperationException("down"), out _));
        var next = Send(order);

        order.Done(next, Events(1));

        Assert.Equal(["events 1"], _told);
    }

    [Fact]
    public void AWakeUp_WaitsForTheAppendsSentBeforeIt_AndNotForLaterOnes()
    {
        var order = NewOrder();
        var before = Send(order);
        order.Notified(7);
        var after = Send(order);
        Assert.Empty(_told);

        order.Done(before, Events(7));
        Assert.Equal(["events 7", "notify 7"], _told);

        order.Notified(9); // only a later append is in flight: held until it is announced
        order.Done(after, Events(8));
        Assert.Equal(["events 7", "notify 7", "events 8", "notify 9"], _told);
    }

    [Fact]
    public void AWakeUpWithNothingInFlight_PassesAtOnce()
    {
        var order = NewOrder();
        order.Notified(3);
        Assert.Equal(["notify 3"], _told);
    }
}
