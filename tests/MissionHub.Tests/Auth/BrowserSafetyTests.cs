using System.Net;
using System.Text;

namespace MissionHub.Tests.Auth;

/// <summary>What stops a web page elsewhere from using a browser's access to the hub.</summary>
public sealed class BrowserSafetyTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private MissionHubFactory _server = null!;

    public Task InitializeAsync()
    {
        _server = MissionHubFactory.WithSqlite(_folder.File("browser.db"), new Dictionary<string, string?>
        {
            ["MissionHub:Auth:AllowedOrigins:0"] = "https://ops.example.com",
        });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _folder.Dispose();
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=x")]
    public async Task NonJsonBody_IsRefusedWith415(string contentType)
    {
        using var client = AuthTestSupport.Client(_server);
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes("""{"name":"cross-site"}"""));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        using var response = await client.PostAsync(new Uri("/api/missions", UriKind.Relative), content);
        var problem = await response.AssertProblemAsync(415);
        Assert.Contains("application/json", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var missions = await client.GetJsonAsync("/api/missions");
        Assert.Equal(0, missions.GetProperty("missions").GetArrayLength());
    }

    [Fact]
    public async Task JsonBody_IsStillAccepted()
    {
        using var client = AuthTestSupport.Client(_server);
        using var response = await client.PostAsync(new Uri("/api/missions", UriKind.Relative),
            new StringContent("""{"name":"same-site"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task WebSocketHandshake_FromAForeignOrigin_IsRefused_OwnAndAllowedOriginsAndNoOriginAreFine()
    {
        Assert.Equal(403, await AuthTestSupport.HandshakeStatusAsync(_server, "/ws/monitor", origin: "https://evil.example"));
        Assert.Equal(403, await AuthTestSupport.HandshakeStatusAsync(_server, "/ws/worker", origin: "http://localhost:1"));
        var own = _server.BaseAddress.GetLeftPart(UriPartial.Authority);
        Assert.Equal(101, await AuthTestSupport.HandshakeStatusAsync(_server, "/ws/monitor", origin: own));
        Assert.Equal(101, await AuthTestSupport.HandshakeStatusAsync(_server, "/ws/monitor", origin: "https://ops.example.com"));
        Assert.Equal(101, await AuthTestSupport.HandshakeStatusAsync(_server, "/ws/monitor"));
    }
}
