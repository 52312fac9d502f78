using System.Text.Json;
using MissionHub.Events;
using MissionHub.Infrastructure;

namespace MissionHub.Tests.Events;

public sealed class EventBusTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private MissionHubFactory _factory = null!;

    private EventBus Bus => _factory.Services.GetRequiredService<EventBus>();

    public Task InitializeAsync()
    {
        _factory = MissionHubFactory.WithSqlite(_folder.File("bus.db"), new Dictionary<string, string?>
        {
            ["MissionHub:Events:SubscriberQueueCapacity"] = "16",
        });
        _factory.StartServer();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _factory.DisposeAsync();
        _folder.Dispose();
    }

    private static JsonElement Payload(int n) => JsonSerializer.SerializeToElement(new { n });

    [Fact]
    public async Task SubscriberThatNeverReads_DoesNotStopPublishing_AndItsOverflowIsExact()
    {
        using var stuck = Bus.Subscribe(EventFilter.Create("load.*"), capacity: 100);
        using var other = Bus.Subscribe(EventFilter.Create("load.*"), capacity: 10_000);
        using var unrelated = Bus.Subscribe(EventFilter.Create("mission.*"), capacity: 1);
        const int count = 5000;

        CharterEvent? last = null;
        for (var i = 0; i < count; i++)
        {
            last = await Bus.PublishAsync("load.tick", "test_source", null, Payload(i));
            Assert.NotNull(last);
        }
        await Eventually.TrueAsync(() => Bus.DispatchedSeq >= last!.Seq, TimeSpan.FromSeconds(20), "the dispatcher to pass the last event");

        Assert.Equal(count - 100, stuck.Missed);
        Assert.Equal(0, other.Missed);
        Assert.Equal(0, unrelated.Missed);
        var delivered = new List<long>();
        while (other.Reader.TryRead(out var evt))
        {
            delivered.Add(evt.Seq);
        }
        Assert.Equal(Enumerable.Range(1, count).Select(i => (long)i), delivered);
        var queued = new List<long>();
        while (stuck.Reader.TryRead(out var evt))
        {
            queued.Add(evt.Seq);
        }
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), queued);
    }

    [Fact]
    public async Task Feed_ThatOverflows_StillDeliversEveryEventOnce_InOrder()
    {
        using var feed = Bus.OpenFeed(EventFilter.Create("load.*"), 0, Bus.Log.Epoch);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        const int count = 2000;
        for (var i = 0; i < count; i++)
        {
            await Bus.PublishAsync(i % 3 == 0 ? "other.tick" : "load.tick", "test_source", null, Payload(i));
        }
        var publishing = Task.Run(async () =>
        {
            for (var i = count; i < count + 500; i++)
            {
                await Bus.PublishAsync(i % 3 == 0 ? "other.tick" : "load.tick", "test_source", null, Payload(i));
            }
        });

        var received = new List<CharterEvent>();
        var expected = Enumerable.Range(0, count + 500).Count(i => i % 3 != 0);
        while (received.Count < expected)
        {
            received.AddRange(await feed.NextAsync(TimeSpan.FromSeconds(5), cancel.Token));
        }
        await publishing;

        Assert.True(feed.Recovered > 0, "the 16-slot live queue must have overflowed for this test to mean anything");
        Assert.Equal(expected, received.Count);
        Assert.All(received, e => Assert.Equal("load.tick", e.Type));
        Assert.Equal(received.Select(e => e.Seq).Order(), received.Select(e => e.Seq));
        Assert.Equal(received.Count, received.Select(e => e.Seq).Distinct().Count());
        Assert.Equal(Enumerable.Range(0, count + 500).Where(i => i % 3 != 0).Select(i => (long)i + 1), received.Select(e => e.Seq));
    }

    [Fact]
    public async Task Publish_CarriesTheAmbientCorrelationId()
    {
        CorrelationContext.Current = "corr-from-request";
        try
        {
            var evt = await Bus.PublishAsync("mission.created", "missions_service", null, Payload(1));

            Assert.Equal("corr-from-request", evt!.Meta.CorrelationId);
            Assert.Equal("1.0", evt.Meta.Version);
            var stored = (await Bus.Log.ReadAsync(new EventQuery(evt.Seq - 1, Limit: 1))).Events.Single();
            Assert.Equal("corr-from-request", stored.Meta.CorrelationId);
        }
        finally
        {
            CorrelationContext.Current = null;
        }
    }
}
