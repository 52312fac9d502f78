using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace MissionHub.Tests.Missions;

/// <summary>
/// <c>Idempotency-Key</c> on <c>POST /api/missions</c>, on each backend: the same key with the same body answers 200
/// with the original mission (created once, one event), also after a restart and when 50 requests race; the same key
/// with a different body is a 409 naming the key; a malformed key is a 400 naming the header.
/// </summary>
public abstract class MissionIdempotencyTests : IAsyncLifetime
{
    private const string Body = """{"name":"Deliver pallet 7","data":{"dock":3}}""";

    protected TempFolder Folder { get; } = new();

    private MissionHubFactory _factory = null!;
    private HttpClient _client = null!;

    protected abstract MissionHubFactory CreateFactory();

    public Task InitializeAsync()
    {
        _factory = CreateFactory();
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
    public async Task SameKeyAndBody_AnswersWithTheOriginal_AndCreatesOneMission_AlsoAfterARestart()
    {
        var (firstStatus, first) = await CreateAsync("pallet-7", Body);
        Assert.Equal(HttpStatusCode.Created, firstStatus);
        var id = first.GetProperty("id").GetString();

        var (againStatus, again) = await CreateAsync("pallet-7", Body);
        Assert.Equal(HttpStatusCode.OK, againStatus);
        Assert.Equal(id, again.GetProperty("id").GetString());

        _client.Dispose();
        await _factory.DisposeAsync();
        _factory = CreateFactory();
        _client = _factory.CreateClient();
        var (afterStatus, after) = await CreateAsync("pallet-7", Body);
        Assert.Equal(HttpStatusCode.OK, afterStatus);
        Assert.Equal(id, after.GetProperty("id").GetString());

        Assert.Equal(1, await TotalAsync());
        Assert.Single(await _client.ReadEventsAsync("mission.created"));
        // Another key is another mission.
        Assert.Equal(HttpStatusCode.Created, (await CreateAsync("pallet-8", Body)).Status);
    }

    [Fact]
    public async Task FiftyConcurrentRequestsWithTheSameKey_CreateOneMission_AndAllAnswerItsId()
    {
        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => CreateAsync("race-1", Body)));

        var ids = answers.Select(a => a.Mission.GetProperty("id").GetString()).Distinct().ToList();
        Assert.Single(ids);
        Assert.Equal(1, answers.Count(a => a.Status == HttpStatusCode.Created));
        Assert.Equal(49, answers.Count(a => a.Status == HttpStatusCode.OK));
        Assert.Equal(1, await TotalAsync());
        Assert.Single(await _client.ReadEventsAsync("mission.created"));
    }

    [Fact]
    public async Task SameKeyWithADifferentBody_Is409NamingTheKey_AndCreatesNothing()
    {
        var (_, first) = await CreateAsync("pallet-9", Body);

        using var response = await PostAsync("pallet-9", """{"name":"Deliver pallet 9","data":{"dock":4}}""");

        var problem = await response.AssertProblemAsync(409, "Idempotency-Key");
        Assert.Contains("pallet-9", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(first.GetProperty("id").GetString(), problem.GetProperty("mission_id").GetString());
        Assert.Equal(1, await TotalAsync());
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    public async Task MalformedKey_Is400NamingTheHeader(string key)
    {
        using var response = await PostAsync(key, Body);

        await response.AssertProblemAsync(400, "Idempotency-Key");
        Assert.Equal(0, await TotalAsync());
    }

    [Fact]
    public async Task KeyOver128Characters_Is400NamingTheHeader()
    {
        using var response = await PostAsync(new string('k', 129), Body);

        await response.AssertProblemAsync(400, "Idempotency-Key");
    }

    private async Task<int> TotalAsync() =>
        (await _client.GetFromJsonAsync<JsonElement>("/api/missions/stats")).GetProperty("total").GetInt32();

    private async Task<(HttpStatusCode Status, JsonElement Mission)> CreateAsync(string key, string body)
    {
        using var response = await PostAsync(key, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, $"answered {(int)response.StatusCode}: {text}");
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    private async Task<HttpResponseMessage> PostAsync(string key, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/missions", UriKind.Relative))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        return await _client.SendAsync(request);
    }
}

public sealed class SqliteMissionIdempotencyTests : MissionIdempotencyTests
{
    protected override MissionHubFactory CreateFactory() => MissionHubFactory.WithSqlite(Folder.File("idempotency.db"));
}

public sealed class RedisMissionIdempotencyTests(RedisServerFixture redis) : MissionIdempotencyTests, IClassFixture<RedisServerFixture>
{
    private readonly string _prefix = $"idem{Guid.NewGuid():N}:";

    protected override MissionHubFactory CreateFactory() => MissionHubFactory.WithRedis(redis.Server, keyPrefix: _prefix);
}
