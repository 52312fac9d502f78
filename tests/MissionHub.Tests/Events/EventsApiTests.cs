using System.Net;
using System.Text.Json;
using MissionHub.Client;
using MissionHub.Events;

namespace MissionHub.Tests.Events;

/// <summary>GET /api/events and the SSE stream through the real HTTP surface, on each backend.</summary>
public abstract class EventsApiTests : IAsyncLifetime
{
    protected TempFolder Folder { get; } = new();

    protected MissionHubFactory Factory { get; private set; } = null!;

    protected HttpClient Client { get; private set; } = null!;

    protected EventBus Bus => Factory.Services.GetRequiredService<EventBus>();

    protected abstract MissionHubFactory CreateFactory(IDictionary<string, string?>? extra = null);

    public virtual Task InitializeAsync()
    {
        Factory = CreateFactory(new Dictionary<string, string?> { ["MissionHub:Events:SseKeepAlive"] = "00:00:00.300" });
        Client = Factory.CreateClient();
        return Task.CompletedTask;
    }

    public virtual async Task DisposeAsync()
    {
        Client.Dispose();
        await Factory.DisposeAsync();
        Folder.Dispose();
    }

    protected async Task<CharterEvent> PublishAsync(string type, string? target = null, int n = 0)
    {
        var evt = await Bus.PublishAsync(type, "test_source", target, JsonSerializer.SerializeToElement(new { n }));
        Assert.NotNull(evt);
        return evt;
    }

    [Fact]
    public async Task History_ReturnsEnvelopesInOrder_WithEpochAndPosition()
    {
        for (var i = 0; i < 5; i++)
        {
            await PublishAsync(i % 2 == 0 ? "mission.created" : "job_progress", i % 2 == 0 ? null : "job_1", i);
        }

        var all = await Client.GetJsonAsync("/api/events");
        Assert.True(all.GetProperty("recovered").GetBoolean());
        Assert.Equal(Bus.Log.Epoch, all.GetProperty("epoch").GetString());
        Assert.Equal(5, all.GetProperty("last_seq").GetInt64());
        var events = all.GetProperty("events").EnumerateArray().ToList();
        Assert.Equal([1L, 2L, 3L, 4L, 5L], events.Select(e => e.GetProperty("seq").GetInt64()));
        var first = events[0];
        Assert.Equal(["id", "type", "source", "target", "timestamp", "payload", "meta", "seq"], first.EnumerateObject().Select(p => p.Name));
        Assert.Equal(JsonValueKind.Null, first.GetProperty("target").ValueKind);
        Assert.Equal("1.0", first.GetProperty("meta").GetProperty("version").GetString());
        Assert.True(Guid.TryParse(first.GetProperty("id").GetString(), out _));

        var filtered = await Client.GetJsonAsync("/api/events?after_seq=1&type=job_*&target=job_1&limit=1");
        Assert.Equal([2L], filtered.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()));
        Assert.Equal(2, filtered.GetProperty("next_after_seq").GetInt64());

        var since = events[3].GetProperty("timestamp").GetDouble();
        var bySince = await Client.GetJsonAsync($"/api/events?since={since.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}");
        Assert.All(bySince.GetProperty("events").EnumerateArray(), e => Assert.True(e.GetProperty("seq").GetInt64() >= 4));
    }

    [Fact]
    public async Task History_FromAnotherEpoch_SaysNotRecovered()
    {
        await PublishAsync("mission.created");

        var page = await Client.GetJsonAsync("/api/events?after_seq=0&epoch=someotherepoch");

        Assert.False(page.GetProperty("recovered").GetBoolean());
        Assert.Empty(page.GetProperty("events").EnumerateArray());
        Assert.Contains("epoch", page.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task History_AsCloudEvents_HasTheCloudEventsFields()
    {
        await PublishAsync("mission.status_changed", "mission_9");

        using var response = await Client.GetAsync(new Uri("/api/events?format=cloudevents", UriKind.Relative));
        response.EnsureSuccessStatusCode();
        Assert.Equal(CloudEvent.BatchMediaType, response.Content.Headers.ContentType?.MediaType);
        var batch = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var evt = batch[0];
        Assert.Equal("1.0", evt.GetProperty("specversion").GetString());
        Assert.Equal("mission.status_changed", evt.GetProperty("type").GetString());
        Assert.Equal("mission_9", evt.GetProperty("target").GetString());
        Assert.Equal(1, evt.GetProperty("sequence").GetInt64());
        Assert.True(DateTimeOffset.TryParse(evt.GetProperty("time").GetString(), System.Globalization.CultureInfo.InvariantCulture, out _));
        Assert.Equal(Bus.Log.Epoch, response.Headers.GetValues("MissionHub-Epoch").Single());
    }

    [Theory]
    [InlineData("after_seq=-1", "after_seq")]
    [InlineData("after_seq=abc", "after_seq")]
    [InlineData("after_seq=1.5", "after_seq")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=1001", "limit")]
    [InlineData("limit=ten", "limit")]
    [InlineData("type=mission.**", "type")]
    [InlineData("type=mission%20created", "type")]
    [InlineData("type=*mission", "type")]
    [InlineData("since=yesterday", "since")]
    [InlineData("since=-5", "since")]
    [InlineData("format=xml", "format")]
    public async Task History_WithBadParameter_Is400NamingIt(string queryString, string field)
    {
        using var response = await Client.GetAsync(new Uri("/api/events?" + queryString, UriKind.Relative));

        var problem = await response.AssertProblemAsync(400, field);
        Assert.Contains(field, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_WithBadParameters_Is400()
    {
        using var badType = await Client.GetAsync(new Uri("/api/events/stream?type=a**", UriKind.Relative));
        await badType.AssertProblemAsync(400, "type");

        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/events/stream", UriKind.Relative));
        request.Headers.Add("Last-Event-ID", "garbage");
        using var badId = await Client.SendAsync(request);
        await badId.AssertProblemAsync(400, "Last-Event-ID");
    }

    [Fact]
    public async Task CorrelationId_IsEchoed_OrGenerated()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/health", UriKind.Relative));
        request.Headers.Add("X-Correlation-ID", "trace-abc-123");
        using var echoed = await Client.SendAsync(request);
        Assert.Equal("trace-abc-123", echoed.Headers.GetValues("X-Correlation-ID").Single());

        using var generated = await Client.GetAsync(new Uri("/api/health", UriKind.Relative));
        Assert.Matches("^[0-9a-f]{32}$", generated.Headers.GetValues("X-Correlation-ID").Single());
    }

    [Fact]
    public async Task Stream_ReconnectWithLastEventId_ReceivesExactlyTheMissingEvents()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var (response, reader) = await Client.OpenEventStreamAsync(cancellationToken: cancel.Token);
        for (var i = 1; i <= 10; i++)
        {
            await PublishAsync("mission.created", n: i);
        }
        var seen = new List<ServerSentEvent>();
        for (var i = 0; i < 4; i++)
        {
            seen.Add((await reader.ReadAsync(cancel.Token))!);
        }
        var lastId = reader.LastEventId!;
        reader.Dispose();
        response.Dispose();

        for (var i = 11; i <= 20; i++)
        {
            await PublishAsync(i % 2 == 0 ? "job_progress" : "mission.created", n: i);
        }
        var (resumed, resumedReader) = await Client.OpenEventStreamAsync(lastEventId: lastId, cancellationToken: cancel.Token);
        using (resumed)
        using (resumedReader)
        {
            for (var i = 0; i < 16; i++)
            {
                seen.Add((await resumedReader.ReadAsync(cancel.Token))!);
            }
            await PublishAsync("mission.created", n: 21);
            seen.Add((await resumedReader.ReadAsync(cancel.Token))!);
        }

        var epoch = Bus.Log.Epoch;
        Assert.Equal(Enumerable.Range(1, 21).Select(i => $"{epoch}:{i}"), seen.Select(e => e.Id));
        Assert.Equal(Enumerable.Range(1, 21).Select(i => (long)i),
            seen.Select(e => JsonDocument.Parse(e.Data).RootElement.GetProperty("seq").GetInt64()));
        Assert.All(seen, e => Assert.Equal(JsonDocument.Parse(e.Data).RootElement.GetProperty("type").GetString(), e.Event));
    }

    [Fact]
    public async Task Stream_WithTypeFilter_SendsOnlyMatchingEvents()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var (response, reader) = await Client.OpenEventStreamAsync("/api/events/stream?type=mission.*", cancellationToken: cancel.Token);
        using (response)
        using (reader)
        {
            await PublishAsync("job_progress");
            await PublishAsync("mission.created");
            await PublishAsync("telemetry.metrics_published");
            await PublishAsync("mission.status_changed");

            var first = await reader.ReadAsync(cancel.Token);
            var second = await reader.ReadAsync(cancel.Token);
            Assert.Equal(["mission.created", "mission.status_changed"], new[] { first!.Event, second!.Event });
            Assert.EndsWith(":4", second.Id, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Stream_WithLastEventIdFromAnotherEpoch_IsToldToResync_ThenGoesLive()
    {
        await PublishAsync("mission.created");
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var (response, reader) = await Client.OpenEventStreamAsync(lastEventId: "0123456789abcdef:1", cancellationToken: cancel.Token);
        using (response)
        using (reader)
        {
            var reset = await reader.ReadAsync(cancel.Token);
            Assert.Equal("reset", reset!.Event);
            var notice = JsonDocument.Parse(reset.Data).RootElement;
            Assert.False(notice.GetProperty("recovered").GetBoolean());
            Assert.Equal(Bus.Log.Epoch, notice.GetProperty("epoch").GetString());
            Assert.Equal(1, notice.GetProperty("last_seq").GetInt64());

            await PublishAsync("mission.status_changed");
            var live = await reader.ReadAsync(cancel.Token);
            Assert.Equal("mission.status_changed", live!.Event);
            Assert.Equal($"{Bus.Log.Epoch}:2", live.Id);
        }
    }

    [Fact]
    public async Task Stream_WhenIdle_SendsCommentKeepAlives()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/events/stream", UriKind.Relative));
        using var response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var lines = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));

        var keepAlives = 0;
        while (keepAlives < 2 && await lines.ReadLineAsync(cancel.Token) is { } line)
        {
            if (line.StartsWith(':'))
            {
                keepAlives++;
            }
        }

        Assert.Equal(2, keepAlives);
    }

    /// <summary>Replaces the store under the running server's clients: a recreated file or a flushed Redis.</summary>
    protected abstract Task RecreateLogAsync();

    [Fact]
    public async Task Stream_ResumingFromARecreatedLog_IsToldToResync_NotHandedAPartialHistory()
    {
        for (var i = 0; i < 3; i++)
        {
            await PublishAsync("mission.created");
        }
        var oldId = $"{Bus.Log.Epoch}:2";

        await RecreateLogAsync();
        await PublishAsync("after.recreate");
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var (response, reader) = await Client.OpenEventStreamAsync(lastEventId: oldId, cancellationToken: cancel.Token);
        using (response)
        using (reader)
        {
            var first = await reader.ReadAsync(cancel.Token);
            Assert.Equal("reset", first!.Event);
            var notice = JsonDocument.Parse(first.Data).RootElement;
            Assert.False(notice.GetProperty("recovered").GetBoolean());
            Assert.NotEqual(oldId.Split(':')[0], notice.GetProperty("epoch").GetString());
        }
    }
}

public sealed class SqliteEventsApiTests : EventsApiTests
{
    private string _databasePath = "";

    protected override MissionHubFactory CreateFactory(IDictionary<string, string?>? extra = null)
    {
        _databasePath = _databasePath.Length > 0 ? _databasePath : Folder.File("events-api.db");
        return MissionHubFactory.WithSqlite(_databasePath, extra);
    }

    protected override async Task RecreateLogAsync()
    {
        Client.Dispose();
        await Factory.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in Directory.GetFiles(Folder.Path, "events-api.db*"))
        {
            File.Delete(file);
        }
        await InitializeAsync();
    }
}

public sealed class RedisEventsApiTests(RedisServerFixture redis) : EventsApiTests, IClassFixture<RedisServerFixture>
{
    private readonly string _prefix = $"api{Guid.NewGuid():N}:";

    protected override MissionHubFactory CreateFactory(IDictionary<string, string?>? extra = null) =>
        MissionHubFactory.WithRedis(redis.Server, _prefix, extra);

    protected override async Task RecreateLogAsync()
    {
        // As if Redis were flushed: the running server notices on its next append.
        var connection = Factory.Services.GetRequiredService<MissionHub.Storage.Redis.RedisConnection>();
        var db = await connection.GetDatabaseAsync();
        var server = (await connection.GetAsync()).GetServers()[0];
        await foreach (var key in server.KeysAsync(pattern: _prefix + "*"))
        {
            await db.KeyDeleteAsync(key);
        }
    }
}
