using System.Collections.Concurrent;
using System.Text.Json;
using MissionHub.Events;

namespace MissionHub.Tests.Events;

/// <summary>The same assertions for every event-log backend; subclasses say how to open one.</summary>
public abstract class EventLogContractTests : IDisposable
{
    protected TempFolder Folder { get; } = new();

    /// <summary>Opens the log named <paramref name="name"/>; the same name reopens the same store.</summary>
    protected abstract Task<IEventLog> OpenAsync(string name, EventLogOptions? options = null);

    [Fact]
    public async Task ConcurrentAppends_From8Publishers_AreGapFreeAndStrictlyIncreasing()
    {
        const int publishers = 8;
        const int perPublisher = 10_000;
        await using var log = await OpenAsync("concurrent");
        var bySeq = new ConcurrentDictionary<long, string>();
        await Task.WhenAll(Enumerable.Range(0, publishers).Select(p => Task.Run(async () =>
        {
            var previous = 0L;
            for (var i = 0; i < perPublisher; i++)
            {
                var evt = await log.AppendAsync(EventLogs.Draft($"load.p{p}", n: i));
                Assert.True(evt.Seq > previous, "one publisher's seqs must increase");
                previous = evt.Seq;
                Assert.True(bySeq.TryAdd(evt.Seq, evt.Id), $"seq {evt.Seq} was handed out twice");
            }
        })));

        const int total = publishers * perPublisher;
        Assert.Equal(total, bySeq.Count);
        Assert.Equal(1, bySeq.Keys.Min());
        Assert.Equal(total, bySeq.Keys.Max());
        Assert.Equal(total, log.LastSeq);

        var stored = await EventLogs.ReadAllAsync(log);
        Assert.Equal(Enumerable.Range(1, total).Select(i => (long)i), stored.Select(e => e.Seq));
        Assert.All(stored, e => Assert.Equal(bySeq[e.Seq], e.Id));
    }

    [Fact]
    public async Task Events_AreAllThere_AfterTheStoreIsClosedAndReopened()
    {
        string epoch;
        List<CharterEvent> written = [];
        await using (var log = await OpenAsync("reopen"))
        {
            epoch = log.Epoch;
            for (var i = 0; i < 50; i++)
            {
                written.Add(await log.AppendAsync(EventLogs.Draft("mission.created", i % 2 == 0 ? null : $"mission_{i}", correlationId: $"corr-{i}", n: i)));
            }
        }

        await using var reopened = await OpenAsync("reopen");
        Assert.Equal(epoch, reopened.Epoch);
        Assert.Equal(50, reopened.LastSeq);
        var stored = await EventLogs.ReadAllAsync(reopened);
        Assert.Equal(written.Count, stored.Count);
        for (var i = 0; i < written.Count; i++)
        {
            AssertSameEvent(written[i], stored[i]);
        }
        var next = await reopened.AppendAsync(EventLogs.Draft("mission.created"));
        Assert.Equal(51, next.Seq);
    }

    [Fact]
    public async Task Read_FiltersByTypePatternAndTarget_AndPagesWithLimit()
    {
        await using var log = await OpenAsync("filters");
        string[] types = ["mission.created", "mission.status_changed", "job_progress", "telemetry.metrics_published"];
        for (var i = 0; i < 40; i++)
        {
            await log.AppendAsync(EventLogs.Draft(types[i % types.Length], target: i % 5 == 0 ? "mission_7" : null, n: i));
        }

        var missions = await EventLogs.ReadAllAsync(log, filter: EventFilter.Create("mission.*"));
        Assert.Equal(20, missions.Count);
        Assert.All(missions, e => Assert.StartsWith("mission.", e.Type, StringComparison.Ordinal));

        var exactAndPrefix = await EventLogs.ReadAllAsync(log, filter: EventFilter.Create("job_progress,telemetry.*"));
        Assert.Equal(20, exactAndPrefix.Count);

        var targeted = await EventLogs.ReadAllAsync(log, filter: EventFilter.Create("*", "mission_7"));
        Assert.Equal(8, targeted.Count);
        Assert.All(targeted, e => Assert.Equal("mission_7", e.Target));

        var firstPage = await log.ReadAsync(new EventQuery(0, EventFilter.Create("mission.created"), Limit: 3));
        Assert.Equal([1L, 5L, 9L], firstPage.Events.Select(e => e.Seq));
        Assert.Equal(9, firstPage.NextAfterSeq);
        var secondPage = await log.ReadAsync(new EventQuery(firstPage.NextAfterSeq, EventFilter.Create("mission.created"), Limit: 3));
        Assert.Equal([13L, 17L, 21L], secondPage.Events.Select(e => e.Seq));

        var tail = await log.ReadAsync(new EventQuery(38, Limit: 100));
        Assert.Equal([39L, 40L], tail.Events.Select(e => e.Seq));
        Assert.Equal(40, tail.NextAfterSeq);

        var smallPages = await EventLogs.ReadAllAsync(log, pageSize: 7);
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), smallPages.Select(e => e.Seq));
    }

    [Fact]
    public async Task Read_BySince_ReturnsEventsAtOrAfterThatTime()
    {
        await using var log = await OpenAsync("since");
        var start = 1_700_000_000.0;
        for (var i = 0; i < 30; i++)
        {
            await log.AppendAsync(EventLogs.Draft("tick", timestamp: start + i * 0.5, n: i));
        }

        var page = await log.ReadAsync(new EventQuery(Since: start + 10, Limit: 1000) { FromOldestRetained = true });
        Assert.True(page.Recovered);
        Assert.Equal(Enumerable.Range(21, 10).Select(i => (long)i), page.Events.Select(e => e.Seq));
        Assert.All(page.Events, e => Assert.True(e.Timestamp >= start + 10));

        var combined = await log.ReadAsync(new EventQuery(25, Since: start + 10, Limit: 1000));
        Assert.Equal(Enumerable.Range(26, 5).Select(i => (long)i), combined.Events.Select(e => e.Seq));
    }

    [Fact]
    public async Task Retention_TrimsByCount_AndReportsOlderReadsAsNotRecovered()
    {
        await using var log = await OpenAsync("retention");
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 - 100;
        for (var i = 0; i < 100; i++)
        {
            await log.AppendAsync(EventLogs.Draft("tick", timestamp: start + i, n: i));
        }

        var removed = await log.TrimAsync(maxEvents: 30, maxAge: null, CancellationToken.None);
        Assert.Equal(70, removed);

        var fromOldest = await log.ReadAsync(new EventQuery(Limit: 1000) { FromOldestRetained = true });
        Assert.True(fromOldest.Recovered);
        Assert.Equal(71, fromOldest.FirstSeq);
        Assert.Equal(Enumerable.Range(71, 30).Select(i => (long)i), fromOldest.Events.Select(e => e.Seq));

        var boundary = await log.ReadAsync(new EventQuery(70));
        Assert.True(boundary.Recovered);
        Assert.Equal(71, boundary.Events[0].Seq);

        var tooOld = await log.ReadAsync(new EventQuery(69));
        Assert.False(tooOld.Recovered);
        Assert.Empty(tooOld.Events);
        Assert.Contains("no longer retained", tooOld.Reason, StringComparison.Ordinal);

        var sinceTrimmed = await log.ReadAsync(new EventQuery(Since: start + 10) { FromOldestRetained = true });
        Assert.False(sinceTrimmed.Recovered);
        var sinceRetained = await log.ReadAsync(new EventQuery(Since: start + 80, Limit: 1000) { FromOldestRetained = true });
        Assert.True(sinceRetained.Recovered);
        Assert.Equal(81, sinceRetained.Events[0].Seq);
    }

    private static readonly EventRetentionClass[] SupervisorRule =
        [new("supervisor", EventFilter.Create("supervisor.*"), MaxEvents: 20, MaxAge: null)];

    /// <summary>Seqs 1-5 mission.created, 6-55 supervisor probes, 56-60 mission.status_changed, 61-70 probes.</summary>
    private static async Task AppendMixedAsync(IEventLog log, double start)
    {
        var seq = 0;
        foreach (var (type, count) in new[] { ("mission.created", 5), ("supervisor.health_checked", 50), ("mission.status_changed", 5), ("supervisor.health_checked", 10) })
        {
            for (var i = 0; i < count; i++, seq++)
            {
                await log.AppendAsync(EventLogs.Draft(type, target: type.StartsWith("mission", StringComparison.Ordinal) ? "mission_a" : null, timestamp: start + seq));
            }
        }
    }

    [Fact]
    public async Task Retention_ByTypeRule_TrimsThoseTypesAmongThemselves_AndOtherHistoryStaysRecoverable()
    {
        await using var log = await OpenAsync("by-type");
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 - 100;
        await AppendMixedAsync(log, start);

        var removed = await log.TrimAsync(new EventRetentionPolicy(maxEvents: 10, maxAge: null, SupervisorRule), CancellationToken.None);

        // 60 probes, 20 kept: seqs 6-45 go; the 10 mission events are exactly the default limit and all stay.
        Assert.Equal(40, removed);
        Assert.Equal(0, await log.TrimAsync(new EventRetentionPolicy(10, null, SupervisorRule), CancellationToken.None));
        var missions = await log.ReadAsync(new EventQuery(0, EventFilter.Create("mission.*"), Limit: 1000));
        Assert.True(missions.Recovered, missions.Reason);
        Assert.Equal([1L, 2, 3, 4, 5, 56, 57, 58, 59, 60], missions.Events.Select(e => e.Seq));
        var byTarget = await log.ReadAsync(new EventQuery(0, EventFilter.Create(target: "mission_a"), Limit: 1000));
        Assert.False(byTarget.Recovered, "targets are not tracked: a target filter is judged by its types, which are all of them");
        var byTypeAndTarget = await log.ReadAsync(new EventQuery(0, EventFilter.Create("mission.*", "mission_a"), Limit: 1000));
        Assert.True(byTypeAndTarget.Recovered, byTypeAndTarget.Reason);
        Assert.Equal(10, byTypeAndTarget.Events.Count);

        var everything = await log.ReadAsync(new EventQuery(0, Limit: 1000));
        Assert.False(everything.Recovered, "an unfiltered read across removed probes must say so");
        Assert.Contains("no longer retained", everything.Reason, StringComparison.Ordinal);
        Assert.False((await log.ReadAsync(new EventQuery(44))).Recovered);
        var afterRemoved = await log.ReadAsync(new EventQuery(45, Limit: 1000));
        Assert.True(afterRemoved.Recovered, afterRemoved.Reason);
        Assert.Equal(Enumerable.Range(46, 25).Select(i => (long)i), afterRemoved.Events.Select(e => e.Seq));
        var probes = await log.ReadAsync(new EventQuery(5, EventFilter.Create("supervisor.health_checked"), Limit: 1000));
        Assert.False(probes.Recovered);

        var plain = await log.ReadAsync(new EventQuery(Limit: 1000) { FromOldestRetained = true });
        Assert.False(plain.Recovered, "a plain read from seq 1 covers the removed probes");
        Assert.Equal(1, plain.FirstSeq);
        var plainMissions = await log.ReadAsync(new EventQuery(Filter: EventFilter.Create("mission.*"), Limit: 1000) { FromOldestRetained = true });
        Assert.True(plainMissions.Recovered, plainMissions.Reason);
        var missionsSince = await log.ReadAsync(new EventQuery(Filter: EventFilter.Create("mission.*"), Since: start + 10, Limit: 1000) { FromOldestRetained = true });
        Assert.True(missionsSince.Recovered, missionsSince.Reason);
        Assert.Equal([56L, 57, 58, 59, 60], missionsSince.Events.Select(e => e.Seq));
        Assert.False((await log.ReadAsync(new EventQuery(Since: start + 10) { FromOldestRetained = true })).Recovered);
    }

    [Fact]
    public async Task Retention_DefaultLimit_CountsOnlyEventsNoRuleHolds()
    {
        await using var log = await OpenAsync("default-count");
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 - 100;
        await AppendMixedAsync(log, start);

        // 10 mission events, default limit 4: the six oldest go (1-5 and 56), whatever the probes between them.
        var removed = await log.TrimAsync(new EventRetentionPolicy(maxEvents: 4, maxAge: null, SupervisorRule), CancellationToken.None);

        Assert.Equal(40 + 6, removed);
        var missions = await log.ReadAsync(new EventQuery(56, EventFilter.Create("mission.*"), Limit: 1000));
        Assert.True(missions.Recovered, missions.Reason);
        Assert.Equal([57L, 58, 59, 60], missions.Events.Select(e => e.Seq));
        Assert.False((await log.ReadAsync(new EventQuery(55, EventFilter.Create("mission.*")))).Recovered);
        var probes = await log.ReadAsync(new EventQuery(45, EventFilter.Create("supervisor.*"), Limit: 1000));
        Assert.True(probes.Recovered, probes.Reason);
        Assert.Equal(20, probes.Events.Count);
        Assert.Equal(46, (await log.ReadAsync(new EventQuery(Limit: 1) { FromOldestRetained = true })).FirstSeq);
    }

    [Fact]
    public async Task Retention_ByTypeRule_TrimsByAge_WithoutTouchingOlderEventsOfOtherTypes()
    {
        await using var log = await OpenAsync("by-type-age");
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        await log.AppendAsync(EventLogs.Draft("mission.created", timestamp: now - 9000));
        for (var i = 0; i < 10; i++)
        {
            await log.AppendAsync(EventLogs.Draft("telemetry.metrics_published", timestamp: now - 7200 + i));
        }
        await log.AppendAsync(EventLogs.Draft("telemetry.metrics_published", timestamp: now - 5));
        var rule = new EventRetentionClass("metrics", EventFilter.Create("telemetry.metrics_published"), null, TimeSpan.FromHours(1));

        var removed = await log.TrimAsync(new EventRetentionPolicy(null, null, [rule]), CancellationToken.None);

        Assert.Equal(10, removed);
        var rest = await log.ReadAsync(new EventQuery(Limit: 100) { FromOldestRetained = true, SkipRemoved = true });
        Assert.Equal([1L, 12], rest.Events.Select(e => e.Seq));
        Assert.True((await log.ReadAsync(new EventQuery(0, EventFilter.Create("mission.*")))).Recovered);
    }

    [Fact]
    public async Task Retention_TrimsByAge()
    {
        await using var log = await OpenAsync("age");
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        for (var i = 0; i < 10; i++)
        {
            await log.AppendAsync(EventLogs.Draft("old", timestamp: now - 7200 + i));
        }
        for (var i = 0; i < 5; i++)
        {
            await log.AppendAsync(EventLogs.Draft("new", timestamp: now - 5 + i));
        }

        var removed = await log.TrimAsync(maxEvents: null, maxAge: TimeSpan.FromHours(1), CancellationToken.None);

        Assert.Equal(10, removed);
        var rest = await log.ReadAsync(new EventQuery(Limit: 100) { FromOldestRetained = true });
        Assert.Equal(["new"], rest.Events.Select(e => e.Type).Distinct());
        Assert.Equal(11, rest.FirstSeq);
    }

    [Fact]
    public async Task Read_WithAnotherEpoch_IsNotRecovered()
    {
        await using var log = await OpenAsync("epoch");
        await log.AppendAsync(EventLogs.Draft("tick"));

        var page = await log.ReadAsync(new EventQuery(0, Epoch: "not-this-epoch"));

        Assert.False(page.Recovered);
        Assert.Equal(log.Epoch, page.Epoch);
        Assert.Contains("epoch", page.Reason, StringComparison.Ordinal);
        Assert.True((await log.ReadAsync(new EventQuery(0, Epoch: log.Epoch))).Recovered);
    }

    [Fact]
    public async Task Read_AfterTheHead_IsNotRecovered()
    {
        await using var log = await OpenAsync("ahead");
        await log.AppendAsync(EventLogs.Draft("tick"));

        var page = await log.ReadAsync(new EventQuery(500));

        Assert.False(page.Recovered);
    }

    [Fact]
    public async Task Tail_DeliversExistingThenNewEvents_InOrder()
    {
        await using var log = await OpenAsync("tail");
        await log.AppendAsync(EventLogs.Draft("a"));
        await log.AppendAsync(EventLogs.Draft("b"));
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var received = new List<CharterEvent>();
        var reader = Task.Run(async () =>
        {
            await foreach (var evt in log.TailAsync(0, cancellationToken: cancel.Token))
            {
                received.Add(evt);
                if (received.Count == 5)
                {
                    return;
                }
            }
        });
        await log.AppendAsync(EventLogs.Draft("c"));
        await log.AppendAsync(EventLogs.Draft("d"));
        await log.AppendAsync(EventLogs.Draft("e"));
        await reader;

        Assert.Equal(["a", "b", "c", "d", "e"], received.Select(e => e.Type));
        Assert.Equal([1L, 2L, 3L, 4L, 5L], received.Select(e => e.Seq));
    }

    [Fact]
    public async Task Events_KeepEveryEnvelopeField()
    {
        await using var log = await OpenAsync("fields");
        var draft = EventLogs.Draft("mission.status_changed", "mission_42", 1703001300.123, "req-1") with
        {
            Payload = JsonSerializer.SerializeToElement(new { mission_id = "42", nested = new { list = new[] { 1, 2, 3 } }, empty = "" }),
        };

        var appended = await log.AppendAsync(draft);
        var stored = (await log.ReadAsync(new EventQuery(appended.Seq - 1, Limit: 1))).Events.Single();
        await using var reopened = await ReopenForFieldsAsync(log);
        var fromStore = reopened is null ? stored : (await reopened.ReadAsync(new EventQuery(appended.Seq - 1, Limit: 1))).Events.Single();

        AssertSameEvent(appended, stored);
        AssertSameEvent(appended, fromStore);
        var json = JsonDocument.Parse(fromStore.ToUtf8Json()).RootElement;
        Assert.Equal(["id", "type", "source", "target", "timestamp", "payload", "meta", "seq"], json.EnumerateObject().Select(p => p.Name));
        Assert.Equal("1.0", json.GetProperty("meta").GetProperty("version").GetString());
        Assert.Equal("req-1", json.GetProperty("meta").GetProperty("correlation_id").GetString());
    }

    /// <summary>A second handle on the same store, so reads bypass the first handle's memory.</summary>
    protected virtual Task<IEventLog?> ReopenForFieldsAsync(IEventLog log) => Task.FromResult<IEventLog?>(null);

    protected static void AssertSameEvent(CharterEvent expected, CharterEvent actual)
    {
        Assert.Equal(expected.Seq, actual.Seq);
        Assert.Equal(expected.Id, actual.Id);
        Assert.Equal(expected.Type, actual.Type);
        Assert.Equal(expected.Source, actual.Source);
        Assert.Equal(expected.Target, actual.Target);
        Assert.Equal(expected.Timestamp, actual.Timestamp, 6);
        Assert.Equal(expected.Payload.GetRawText(), actual.Payload.GetRawText());
        Assert.Equal(expected.Meta, actual.Meta);
    }

    public void Dispose()
    {
        Folder.Dispose();
        GC.SuppressFinalize(this);
    }
}
