using System.Net.Http.Json;
using System.Text.Json;

namespace MissionHub.Tests.Monitor;

/// <summary><c>batching</c> on <c>subscribe</c>: off by default, <c>true</c>, or <c>{max_events, max_delay_ms}</c>.</summary>
public sealed class MonitorBatchingTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private MissionHubFactory _factory = null!;
    private HttpClient _client = null!;

    public Task InitializeAsync()
    {
        _factory = MissionHubFactory.WithSqlite(_folder.File("batching.db"));
        _client = _factory.CreateClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
        _folder.Dispose();
    }

    private async Task<RawWorker> SubscribeAsync(object? batching)
    {
        var monitor = await RawWorker.ConnectAsync(_factory, "/ws/monitor");
        await monitor.SendAsync(new { type = "monitor_connect", monitor_id = "m-batch", request_full_state = true });
        await monitor.ReceiveTypeAsync("full_state_snapshot");
        await monitor.SendAsync(batching is null
            ? new { type = "subscribe", topics = new[] { "jobs:status" } }
            : new { type = "subscribe", topics = new[] { "jobs:status" }, batching });
        await monitor.ReceiveTypeAsync("subscribed");
        return monitor;
    }

    private async Task<List<string>> SubmitAsync(int count)
    {
        var ids = new List<string>();
        for (var i = 0; i < count; i++)
        {
            using var response = await _client.PostAsJsonAsync("/api/jobs", new { job_type = "render" });
            response.EnsureSuccessStatusCode();
            ids.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
        }
        return ids;
    }

    [Fact]
    public async Task MaxEventsAndMaxDelay_GroupEventsIntoBatchesOfAtMostMaxEvents_InSeqOrder_NoneLostOrDoubled()
    {
        await using var monitor = await SubscribeAsync(new { max_events = 4, max_delay_ms = 500 });
        var submitted = await SubmitAsync(10);

        var received = new List<JsonElement>();
        var batchSizes = new List<int>();
        while (received.Count < submitted.Count)
        {
            var frame = await monitor.ReceiveAsync();
            Assert.Equal("event_batch", frame.GetProperty("type").GetString());
            var events = frame.GetProperty("events").EnumerateArray().ToList();
            batchSizes.Add(events.Count);
            received.AddRange(events);
        }
        Assert.All(batchSizes, size => Assert.InRange(size, 1, 4));
        // Ten submissions well within 500 ms of each other's batch start: the delay fills batches beyond one event.
        Assert.Contains(batchSizes, size => size > 1);
        Assert.Equal(submitted, received.Select(e => e.GetProperty("job_id").GetString()));
        var seqs = received.Select(e => e.GetProperty("seq").GetInt64()).ToList();
        Assert.Equal(seqs.Order().Distinct(), seqs);
    }

    [Fact]
    public async Task WithoutBatching_EachEventIsItsOwnFrame()
    {
        await using var monitor = await SubscribeAsync(null);
        var submitted = await SubmitAsync(3);
        foreach (var id in submitted)
        {
            var frame = await monitor.ReceiveAsync();
            Assert.Equal("job_submitted", frame.GetProperty("type").GetString());
            Assert.Equal(id, frame.GetProperty("job_id").GetString());
        }
    }

    [Theory]
    [InlineData("{\"type\":\"subscribe\",\"topics\":[\"jobs\"],\"batching\":{\"max_events\":0}}")]
    [InlineData("{\"type\":\"subscribe\",\"topics\":[\"jobs\"],\"batching\":{\"max_delay_ms\":5000}}")]
    [InlineData("{\"type\":\"subscribe\",\"topics\":[\"jobs\"],\"batching\":{\"size\":10}}")]
    [InlineData("{\"type\":\"subscribe\",\"topics\":[\"jobs\"],\"batching\":\"yes\"}")]
    public async Task BadBatching_IsRefusedWithInvalidField(string frame)
    {
        await using var monitor = await SubscribeAsync(null);
        await monitor.SendTextAsync(frame);
        Assert.Equal("invalid_field", (await monitor.ReceiveTypeAsync("error")).GetProperty("code").GetString());
    }
}
