using System.Text.Json;
using Microsoft.Data.Sqlite;
using MissionHub.Metrics;
using MissionHub.Missions;
using MissionHub.Storage.Sqlite;

namespace MissionHub.Tests.Metrics;

/// <summary>
/// The <c>aggregate_mission_metrics</c> job (spec 004 events 1–3, issue 7 §3): its event sequence, its figures against a
/// recount of a known dataset, its incremental reads, and a failed run followed by a good one. Run once per backend.
/// </summary>
public abstract class MetricsAggregationTests : IDisposable
{
    private static readonly string[] StartedKeys = ["job_id", "started_at"];
    private static readonly string[] CompletedKeys = ["completed_at", "duration_ms", "entries_processed", "job_id"];
    private static readonly string[] FailedKeys = ["error_message", "error_type", "failed_at", "job_id"];

    private readonly List<IDisposable> _disposables = [];

    protected TempFolder Folder { get; } = new();

    protected abstract MissionHubFactory CreateFactory(IDictionary<string, string?> settings);

    /// <summary>A server whose storage the test can take away and give back.</summary>
    protected abstract Task<BreakableServer> StartBreakableServerAsync(IDictionary<string, string?> settings);

    protected sealed record BreakableServer(MissionHubFactory Factory, Func<Task> BreakAsync, Func<Task> RepairAsync);

    protected MissionHubFactory StartServer(IDictionary<string, string?>? settings = null)
    {
        var factory = CreateFactory(settings ?? new Dictionary<string, string?>());
        Track(factory);
        return factory;
    }

    protected void Track(IDisposable disposable) => _disposables.Add(disposable);

    public void Dispose()
    {
        foreach (var disposable in _disposables)
        {
            disposable.Dispose();
        }
        Folder.Dispose();
        GC.SuppressFinalize(this);
    }

    private static Dictionary<string, string?> Interval(string interval) => new() { ["MissionHub:Metrics:AggregationInterval"] = interval };

    [Fact]
    public async Task Scenario1_ScheduledRuns_PublishStartedThenCompleted_AndNeverOverlap()
    {
        var factory = StartServer(Interval("00:00:00.200"));
        using var client = factory.CreateClient();

        var completed = await client.WaitForEventsAsync("metrics.aggregation_completed", _ => true, 3);
        var events = (await client.ReadEventsAsync("metrics.*")).Take(6).ToList();
        Assert.Equal(
            ["metrics.aggregation_started", "metrics.aggregation_completed", "metrics.aggregation_started", "metrics.aggregation_completed",
             "metrics.aggregation_started", "metrics.aggregation_completed"],
            events.Select(e => e.GetProperty("type").GetString()));
        foreach (var evt in events)
        {
            Assert.Equal("metrics_service", evt.GetProperty("source").GetString());
            Assert.Equal(JsonValueKind.Null, evt.GetProperty("target").ValueKind);
            Assert.Equal("aggregate_mission_metrics", evt.PayloadString("job_id"));
        }
        Assert.Equal(StartedKeys, Keys(events[0].GetProperty("payload")));
        var done = events[1].GetProperty("payload");
        Assert.Equal(CompletedKeys, Keys(done));
        Assert.True(done.GetProperty("duration_ms").GetInt64() >= 0);
        Assert.True(done.GetProperty("entries_processed").GetInt64() >= 0);
        Assert.True(done.GetProperty("completed_at").GetDouble() >= events[0].GetProperty("payload").GetProperty("started_at").GetDouble());
        Assert.True(completed.Count >= 3, "at least three scheduled runs completed");
    }

    [Fact]
    public async Task Aggregation_MatchesARecountOfAKnownDataset_AndReadsOnlyWhatChanged()
    {
        var factory = StartServer(Interval("01:00:00"));
        using var client = factory.CreateClient();
        var aggregator = factory.Services.GetRequiredService<MissionMetricsAggregator>();
        var store = factory.Services.GetRequiredService<IMissionStore>();
        Assert.True(await aggregator.RunOnceAsync(CancellationToken.None)); // the start-up run (or one after it): nothing stored yet

        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        var dataset = new List<Mission>();
        var random = new Random(7);
        var ages = new[] { 60.0, 240, 1200, 2400, 7200, 20000, 50000, 80000, 100_000, 200_000 }; // seconds before now
        var n = 0;
        foreach (var age in ages)
        {
            foreach (var outcome in new MissionStatus?[] { null, MissionStatus.Running, MissionStatus.Completed, MissionStatus.Completed, MissionStatus.Failed, MissionStatus.Cancelled })
            {
                var created = now - age - random.Next(0, 30);
                var finished = outcome is null or MissionStatus.Running ? created : Math.Min(now - 1, created + random.Next(5, 3000));
                dataset.Add(await StoreAsync(store, $"m{n++}", created, outcome, finished));
            }
        }

        Assert.True(await aggregator.RunOnceAsync(CancellationToken.None));
        var metrics = (await client.GetJsonAsync("/api/metrics/missions")).GetProperty("metrics");
        var at = metrics.GetProperty("aggregated_at").GetDouble();
        var inLastDay = dataset.Count(m => m.UpdatedAt >= at - 86400);
        Assert.Equal(inLastDay, metrics.GetProperty("entries_processed").GetInt64());
        AssertMatchesRecount(dataset, metrics);

        // Incremental: a second run reads only the missions that changed since the first.
        var late = await StoreAsync(store, "late-1", now, MissionStatus.Completed, now + 2);
        var late2 = await StoreAsync(store, "late-2", now + 1, null, now + 1);
        var changed = await store.ChangeStatusAsync("m0", MissionStatus.Failed, now + 3, CancellationToken.None);
        dataset.Add(late);
        dataset.Add(late2);
        dataset[0] = changed.Mission!;
        Assert.True(await aggregator.RunOnceAsync(CancellationToken.None));
        metrics = (await client.GetJsonAsync("/api/metrics/missions")).GetProperty("metrics");
        Assert.Equal(3, metrics.GetProperty("entries_processed").GetInt64());
        AssertMatchesRecount(dataset, metrics);

        var completedEvents = await client.WaitForEventsAsync("metrics.aggregation_completed", _ => true, 3);
        Assert.Equal(3, completedEvents[^1].GetProperty("payload").GetProperty("entries_processed").GetInt64());
    }

    [Fact]
    public async Task FailedRun_PublishesFailed_AndTheScheduleGoesOnToASuccessfulRun()
    {
        var server = await StartBreakableServerAsync(Interval("00:00:00.300"));
        var factory = server.Factory;
        using var client = factory.CreateClient();
        var aggregator = factory.Services.GetRequiredService<MissionMetricsAggregator>();
        await client.WaitForEventsAsync("metrics.aggregation_completed", _ => true, 1);

        await server.BreakAsync();
        await Eventually.TrueAsync(() => aggregator.Failures >= 1, TimeSpan.FromSeconds(30), "a failed run");
        var failedRun = (await client.GetJsonAsync("/api/metrics/missions")).GetProperty("last_run");
        Assert.Equal("failed", failedRun.GetProperty("status").GetString());
        Assert.False(string.IsNullOrWhiteSpace(failedRun.GetProperty("error_message").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(failedRun.GetProperty("error_type").GetString()));

        await server.RepairAsync();
        var failures = aggregator.Failures;
        await Eventually.TrueAsync(async () =>
        {
            var response = await client.GetAsync(new Uri("/api/metrics/missions", UriKind.Relative));
            if (!response.IsSuccessStatusCode)
            {
                return false;
            }
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            return body.GetProperty("last_run").GetProperty("status").GetString() == "completed";
        }, TimeSpan.FromSeconds(30), "a successful run after the failure");

        await AssertFailureEventsAsync(client);
        Assert.True(aggregator.Runs > failures);
    }

    /// <summary>The failure as events: where the event log survives the outage, started → failed → started → completed.</summary>
    protected virtual async Task AssertFailureEventsAsync(HttpClient client)
    {
        var failed = (await client.WaitForEventsAsync("metrics.aggregation_failed", _ => true, 1))[0];
        Assert.Equal(FailedKeys, Keys(failed.GetProperty("payload")));
        Assert.False(string.IsNullOrWhiteSpace(failed.PayloadString("error_message")));
        var seq = failed.GetProperty("seq").GetInt64();
        // The run shows as completed a moment before its event is committed: wait for the event itself.
        await client.WaitForEventsAsync("metrics.aggregation_completed", e => e.GetProperty("seq").GetInt64() > seq, 1);
        var events = await client.ReadEventsAsync("metrics.*");
        var before = events.Last(e => e.GetProperty("seq").GetInt64() < seq);
        Assert.Equal("metrics.aggregation_started", before.GetProperty("type").GetString());
        var after = events.Where(e => e.GetProperty("seq").GetInt64() > seq).Select(e => e.GetProperty("type").GetString()).ToList();
        Assert.Equal("metrics.aggregation_started", after[0]);
        Assert.Contains("metrics.aggregation_completed", after);
    }

    private static async Task<Mission> StoreAsync(IMissionStore store, string id, double created, MissionStatus? outcome, double finished)
    {
        var mission = new Mission(id, id, null, JsonSerializer.SerializeToElement(new Dictionary<string, string>()), MissionStatus.Pending, created, created);
        Assert.True(await store.CreateAsync(mission, CancellationToken.None));
        if (outcome is null)
        {
            return mission;
        }
        var change = await store.ChangeStatusAsync(id, MissionStatus.Running, outcome == MissionStatus.Running ? finished : created, CancellationToken.None);
        if (outcome != MissionStatus.Running)
        {
            change = await store.ChangeStatusAsync(id, outcome.Value, finished, CancellationToken.None);
        }
        return change.Mission!;
    }

    private static void AssertMatchesRecount(List<Mission> dataset, JsonElement metrics)
    {
        var at = metrics.GetProperty("aggregated_at").GetDouble();
        Assert.Equal(dataset.Count, metrics.GetProperty("total").GetInt64());
        foreach (var status in MissionStatuses.All)
        {
            Assert.Equal(dataset.Count(m => m.Status == status), metrics.GetProperty("by_status").GetProperty(status.ToWire()).GetInt64());
        }
        var allFinal = dataset.Count(m => m.Status.IsFinal());
        Assert.Equal(Math.Round((double)dataset.Count(m => m.Status == MissionStatus.Completed) / allFinal, 6), metrics.GetProperty("success_rate").GetDouble());

        var windows = metrics.GetProperty("windows").EnumerateArray().ToList();
        Assert.Equal(["5m", "1h", "24h"], windows.Select(w => w.GetProperty("window").GetString()));
        foreach (var window in windows)
        {
            var from = at - window.GetProperty("seconds").GetDouble();
            var finals = dataset.Where(m => m.Status.IsFinal() && m.UpdatedAt >= from).ToList();
            var name = window.GetProperty("window").GetString();
            Assert.True(dataset.Count(m => m.CreatedAt >= from) == window.GetProperty("created").GetInt64(), $"created in {name}");
            Assert.True(finals.Count(m => m.Status == MissionStatus.Completed) == window.GetProperty("completed").GetInt64(), $"completed in {name}");
            Assert.True(finals.Count(m => m.Status == MissionStatus.Failed) == window.GetProperty("failed").GetInt64(), $"failed in {name}");
            Assert.True(finals.Count(m => m.Status == MissionStatus.Cancelled) == window.GetProperty("cancelled").GetInt64(), $"cancelled in {name}");
            var durations = window.GetProperty("duration_seconds");
            var sorted = finals.Select(m => m.UpdatedAt - m.CreatedAt).Order().ToList();
            Assert.Equal(sorted.Count, durations.GetProperty("count").GetInt64());
            if (sorted.Count == 0)
            {
                Assert.Equal(JsonValueKind.Null, durations.GetProperty("p50").ValueKind);
                Assert.Equal(JsonValueKind.Null, window.GetProperty("success_rate").ValueKind);
                continue;
            }
            Assert.Equal(Math.Round(sorted[(int)Math.Ceiling(0.50 * sorted.Count) - 1], 3), durations.GetProperty("p50").GetDouble(), 3);
            Assert.Equal(Math.Round(sorted[(int)Math.Ceiling(0.95 * sorted.Count) - 1], 3), durations.GetProperty("p95").GetDouble(), 3);
            Assert.Equal(Math.Round(sorted[^1], 3), durations.GetProperty("max").GetDouble(), 3);
            Assert.Equal(Math.Round((double)finals.Count(m => m.Status == MissionStatus.Completed) / finals.Count, 6), window.GetProperty("success_rate").GetDouble());
        }
    }

    private static string[] Keys(JsonElement element) =>
        [.. element.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)];
}

public sealed class SqliteMetricsAggregationTests : MetricsAggregationTests
{
    private readonly string _databasePath;

    public SqliteMetricsAggregationTests() => _databasePath = Folder.File("metrics.db");

    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(_databasePath, settings);

    /// <summary>Takes the missions table away (the event log stays), then puts it back.</summary>
    protected override Task<BreakableServer> StartBreakableServerAsync(IDictionary<string, string?> settings)
    {
        var factory = StartServer(settings);
        async Task RenameAsync(string from, string to)
        {
            var database = factory.Services.GetRequiredService<SqliteDatabase>();
            await using var connection = await database.OpenAsync();
            using var rename = connection.CreateCommand();
            rename.CommandText = $"ALTER TABLE {from} RENAME TO {to}";
            await rename.ExecuteNonQueryAsync();
            SqliteConnection.ClearAllPools();
        }
        return Task.FromResult(new BreakableServer(factory, () => RenameAsync("missions", "missions_away"), () => RenameAsync("missions_away", "missions")));
    }
}

public sealed class RedisMetricsAggregationTests(RedisServerFixture redis) : MetricsAggregationTests, IClassFixture<RedisServerFixture>
{
    private readonly string _keyPrefix = $"t{Guid.NewGuid():N}:";

    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, keyPrefix: _keyPrefix, extra: settings);

    /// <summary>A redis-server of its own, stopped and started again on the same port (its data, the event log included, is gone).</summary>
    protected override async Task<BreakableServer> StartBreakableServerAsync(IDictionary<string, string?> settings)
    {
        var server = await RedisServer.StartNewAsync();
        var factory = MissionHubFactory.WithRedis(server, extra: settings);
        Track(factory);
        Track(new DisposeAction(() => server.DisposeAsync().AsTask().GetAwaiter().GetResult()));
        return new BreakableServer(factory, server.StopAsync, server.StartAsync);
    }

    /// <summary>Events published while Redis was down could not be logged; after it is back, runs complete again.</summary>
    protected override async Task AssertFailureEventsAsync(HttpClient client) =>
        await client.WaitForEventsAsync("metrics.aggregation_completed", _ => true, 1, TimeSpan.FromSeconds(30));

    private sealed class DisposeAction(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}
