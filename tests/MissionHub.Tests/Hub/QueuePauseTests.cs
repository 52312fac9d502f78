using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace MissionHub.Tests.Hub;

/// <summary>
/// <c>/api/queues</c> on each backend: a paused job type is not handed out (its jobs wait, pending) while other types
/// flow; running jobs finish; resume hands its jobs out best priority first; the pause is in storage, so it holds
/// across a restart; each change writes one <c>queue_paused</c> / <c>queue_resumed</c>.
/// </summary>
public abstract class QueuePauseTests : HubTestBase
{
    private const string Held = "held";
    private const string Flowing = "flowing";

    [Fact]
    public async Task PausedType_IsNotHandedOut_WhileAnotherTypeFlows_AndResumeHandsOutItsJobsBestPriorityFirst()
    {
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-queues", [Held, Flowing]);
        var running = await SubmitAsync(Held);
        Assert.Equal(running, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
        await worker.ProgressAsync(running, 0.5);

        var pause = await PostAsync($"/api/queues/{Held}/pause");
        Assert.True(pause.GetProperty("paused").GetBoolean());
        Assert.True(pause.GetProperty("changed").GetBoolean());
        Assert.False((await PostAsync($"/api/queues/{Held}/pause")).GetProperty("changed").GetBoolean());

        // A running job of a paused type finishes as usual.
        await worker.CompleteAsync(running);
        await WaitForStatusAsync(running, "completed");

        // With the held type free to go, its priority-10 job would be first; paused, the worker gets the flowing job.
        var low = await SubmitAsync(Held, priority: 1);
        var high = await SubmitAsync(Held, priority: 10);
        var middle = await SubmitAsync(Held, priority: 5);
        var flowing = await SubmitAsync(Flowing, priority: 0);
        Assert.Equal(flowing, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
        await worker.CompleteAsync(flowing);
        await WaitForStatusAsync(flowing, "completed");

        var queues = await QueuesAsync();
        Assert.True(queues[Held].GetProperty("paused").GetBoolean());
        Assert.Equal(JsonValueKind.Number, queues[Held].GetProperty("paused_at").ValueKind);
        Assert.Equal(3, queues[Held].GetProperty("pending").GetInt64());
        Assert.Equal(1, queues[Held].GetProperty("completed").GetInt64());
        Assert.Equal(["w-queues"], queues[Held].GetProperty("workers").EnumerateArray().Select(w => w.GetString()));
        Assert.False(queues[Flowing].GetProperty("paused").GetBoolean());
        Assert.Equal(0, queues[Flowing].GetProperty("pending").GetInt64());
        Assert.Equal("pending", (await GetJobAsync(high)).GetProperty("status").GetString());

        var resume = await PostAsync($"/api/queues/{Held}/resume");
        Assert.False(resume.GetProperty("paused").GetBoolean());
        Assert.True(resume.GetProperty("changed").GetBoolean());
        foreach (var expected in new[] { high, middle, low })
        {
            Assert.Equal(expected, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
            await worker.CompleteAsync(expected);
        }
        await WaitForStatusAsync(low, "completed");

        var changes = await Client.ReadEventsAsync("queue_*");
        Assert.Equal(["queue_paused", "queue_resumed"], changes.Select(e => e.GetProperty("type").GetString()));
        Assert.All(changes, e =>
        {
            Assert.Equal("hub", e.GetProperty("source").GetString());
            Assert.Equal($"queue_{Held}", e.GetProperty("target").GetString());
            Assert.Equal(Held, e.PayloadString("job_type"));
        });
    }

    [Fact]
    public async Task Pause_HoldsAcrossARestart_AndResumeAfterIt_HandsTheJobOut()
    {
        await PostAsync($"/api/queues/{Held}/pause");
        var waiting = await SubmitAsync(Held);
        Client.Dispose();
        await Factory.DisposeAsync();

        Factory = CreateFactory(Settings);
        Client = Factory.CreateClient();
        Assert.True((await QueuesAsync())[Held].GetProperty("paused").GetBoolean());
        await using var worker = await RawWorker.RegisterAsync(Factory, "w-restart", [Held, Flowing]);
        var flowing = await SubmitAsync(Flowing);
        Assert.Equal(flowing, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
        await worker.CompleteAsync(flowing);
        Assert.Equal("pending", (await GetJobAsync(waiting)).GetProperty("status").GetString());

        await PostAsync($"/api/queues/{Held}/resume");
        Assert.Equal(waiting, (await worker.ReceiveJobAsync()).GetProperty("id").GetString());
    }

    [Theory]
    [InlineData("/api/queues/has%20spaces/pause")]
    [InlineData("/api/queues/%F0%9F%9A%80/resume")]
    public async Task InvalidJobType_Is400NamingJobType(string url)
    {
        using var response = await Client.PostAsync(new Uri(url, UriKind.Relative), null);

        await response.AssertProblemAsync(400, "job_type");
        Assert.Empty(await Client.ReadEventsAsync("queue_*"));
    }

    private async Task<JsonElement> PostAsync(string url)
    {
        using var response = await Client.PostAsync(new Uri(url, UriKind.Relative), null);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST {url} answered {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private async Task<Dictionary<string, JsonElement>> QueuesAsync() =>
        (await Client.GetFromJsonAsync<JsonElement>("/api/queues")).GetProperty("queues").EnumerateArray()
            .ToDictionary(q => q.GetProperty("job_type").GetString()!, q => q);
}

public sealed class SqliteQueuePauseTests : QueuePauseTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("queues.db"), settings);
}

public sealed class RedisQueuePauseTests(RedisServerFixture redis) : QueuePauseTests, IClassFixture<RedisServerFixture>
{
    // One prefix per test: a restart is the same hub.
    private readonly string _prefix = $"queues{Guid.NewGuid():N}:";

    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, _prefix, settings);
}
