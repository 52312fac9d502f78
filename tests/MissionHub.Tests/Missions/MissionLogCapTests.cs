using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace MissionHub.Tests.Missions;

/// <summary>
/// A mission's log is bounded (<c>MissionHub:Missions:MaxLogEntries</c>), on each backend: the creation entry and
/// appends up to the cap are taken; the next append is a 409 naming the log and the cap, writes nothing (no entry, no
/// event), and the mission keeps working otherwise (its status still changes, other missions still log).
/// </summary>
public abstract class MissionLogCapTests : IAsyncLifetime
{
    private const int Cap = 5;

    protected TempFolder Folder { get; } = new();

    private MissionHubFactory _factory = null!;
    private HttpClient _client = null!;

    protected abstract MissionHubFactory CreateFactory(IDictionary<string, string?> settings);

    public Task InitializeAsync()
    {
        _factory = CreateFactory(new Dictionary<string, string?> { ["MissionHub:Missions:MaxLogEntries"] = Cap.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        _client = _factory.CreateClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
        Folder.Dispose();
    }

    [Fact]
    public async Task AppendBeyondTheCap_Is409NamingTheLog_AndWritesNothing()
    {
        var id = await CreateAsync("capped");
        for (var i = 1; i < Cap; i++) // the creation wrote the first entry
        {
            using var appended = await AppendAsync(id, $"step {i}");
            Assert.Equal(HttpStatusCode.Created, appended.StatusCode);
        }
        var eventsBefore = (await _client.ReadEventsAsync("mission.log_appended")).Count;

        using var refused = await AppendAsync(id, "one too many");

        var problem = await refused.AssertProblemAsync(409, "log");
        Assert.Contains($"{Cap} log entries", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(Cap, problem.GetProperty("max_log_entries").GetInt32());
        var log = await _client.GetFromJsonAsync<JsonElement>($"/api/missions/{id}/log?limit=100");
        Assert.Equal(Cap, log.GetProperty("entries").GetArrayLength());
        Assert.Equal(eventsBefore, (await _client.ReadEventsAsync("mission.log_appended")).Count);

        using var other = await AppendAsync(await CreateAsync("uncapped"), "still logging");
        Assert.Equal(HttpStatusCode.Created, other.StatusCode);
        using var running = await _client.PostAsync(new Uri($"/api/missions/{id}/status", UriKind.Relative),
            new StringContent("""{"status":"RUNNING"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, running.StatusCode);
    }

    private async Task<string> CreateAsync(string name)
    {
        using var response = await _client.PostAsync(new Uri("/api/missions", UriKind.Relative),
            new StringContent($$"""{"name":"{{name}}"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    private Task<HttpResponseMessage> AppendAsync(string id, string message) =>
        _client.PostAsync(new Uri($"/api/missions/{id}/log", UriKind.Relative),
            new StringContent(JsonSerializer.Serialize(new { level = "info", message }), Encoding.UTF8, "application/json"));
}

public sealed class SqliteMissionLogCapTests : MissionLogCapTests
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithSqlite(Folder.File("logcap.db"), settings);
}

public sealed class RedisMissionLogCapTests(RedisServerFixture redis) : MissionLogCapTests, IClassFixture<RedisServerFixture>
{
    protected override MissionHubFactory CreateFactory(IDictionary<string, string?> settings) =>
        MissionHubFactory.WithRedis(redis.Server, extra: settings);
}
