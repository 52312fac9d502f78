using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;

namespace MissionHub.Tests.Auth;

/// <summary>
/// Protected mode through the in-memory test host, where each request's <c>RemoteIpAddress</c> is set directly
/// (no traffic to any non-loopback address, no forwarded-for header).
/// </summary>
public sealed class ProtectedModeTests : IAsyncLifetime
{
    private static readonly IPAddress Lan = IPAddress.Parse("192.0.2.10");
    private static readonly IPAddress LanV6 = IPAddress.Parse("2001:db8::10");
    private readonly TempFolder _folder = new();
    private TestHostFactory _host = null!;

    public Task InitializeAsync()
    {
        _host = new TestHostFactory(new()
        {
            ["MissionHub:Storage:Provider"] = "sqlite",
            ["MissionHub:Storage:Sqlite:Path"] = _folder.File("protected.db"),
            ["MissionHub:Storage:Sqlite:Synchronous"] = "normal",
            ["MissionHub:Metrics:AggregateAtStart"] = "false",
            ["MissionHub:Metrics:MeterName"] = $"MissionHub.Test{Guid.NewGuid():N}",
        });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _folder.Dispose();
    }

    private async Task<(int Status, string Body)> SendAsync(IPAddress from, string method, string path, string? json = null, string? bearer = null)
    {
        var context = await _host.Server.SendAsync(http =>
        {
            http.Connection.RemoteIpAddress = from;
            http.Request.Method = method;
            var query = path.IndexOf('?', StringComparison.Ordinal);
            http.Request.Path = query < 0 ? path : path[..query];
            http.Request.QueryString = query < 0 ? QueryString.Empty : new QueryString(path[query..]);
            if (bearer is not null)
            {
                http.Request.Headers.Authorization = "Bearer " + bearer;
            }
            if (json is not null)
            {
                var bytes = Encoding.UTF8.GetBytes(json);
                http.Request.ContentType = "application/json";
                http.Request.ContentLength = bytes.Length;
                http.Request.Body = new MemoryStream(bytes);
            }
        });
        using var reader = new StreamReader(context.Response.Body);
        return (context.Response.StatusCode, await reader.ReadToEndAsync());
    }

    [Fact]
    public async Task NonLoopbackClient_IsRefusedWith403_SayingHowToConfigureKeys()
    {
        foreach (var address in new[] { Lan, LanV6 })
        {
            var (status, body) = await SendAsync(address, "GET", "/api/missions");
            Assert.Equal(403, status);
            Assert.Contains("protected mode", body, StringComparison.Ordinal);
            Assert.Contains("MissionHub:Auth:Keys", body, StringComparison.Ordinal);
        }
        var (dashboard, _) = await SendAsync(Lan, "GET", "/");
        Assert.Equal(403, dashboard);
        var (create, _) = await SendAsync(Lan, "POST", "/api/missions", """{"name":"from the lan"}""");
        Assert.Equal(403, create);
    }

    [Fact]
    public async Task LoopbackClient_IsServedWithEveryRole()
    {
        foreach (var address in new[] { IPAddress.Loopback, IPAddress.IPv6Loopback, IPAddress.Parse("127.8.9.10") })
        {
            var (list, _) = await SendAsync(address, "GET", "/api/missions");
            Assert.Equal(200, list);
        }
        var (created, _) = await SendAsync(IPAddress.Loopback, "POST", "/api/missions", """{"name":"local"}""");
        Assert.Equal(201, created);
        var (me, body) = await SendAsync(IPAddress.Loopback, "GET", "/api/auth/me");
        Assert.Equal(200, me);
        var who = JsonDocument.Parse(body).RootElement;
        Assert.True(who.GetProperty("protected_mode").GetBoolean());
        Assert.Equal(5, who.GetProperty("roles").GetArrayLength());
    }

    [Fact]
    public async Task Health_IsOpen_ToEveryone()
    {
        var (status, _) = await SendAsync(Lan, "GET", "/api/health");
        Assert.Equal(200, status);
    }

    [Fact]
    public async Task FirstKeyCreated_EndsProtectedMode_ForLoopbackToo()
    {
        var (created, body) = await SendAsync(IPAddress.Loopback, "POST", "/api/auth/keys", """{"name":"first-admin","roles":["admin"]}""");
        Assert.Equal(201, created);
        var secret = JsonDocument.Parse(body).RootElement.GetProperty("secret").GetString()!;
        Assert.StartsWith("mh_", secret, StringComparison.Ordinal);

        var (anonymous, _) = await SendAsync(IPAddress.Loopback, "GET", "/api/missions");
        Assert.Equal(401, anonymous);
        var (withKey, _) = await SendAsync(IPAddress.Loopback, "GET", "/api/missions", bearer: secret);
        Assert.Equal(200, withKey);
        // And now a LAN client with a key is served, not refused by protected mode.
        var (fromLan, _) = await SendAsync(Lan, "GET", "/api/missions", bearer: secret);
        Assert.Equal(200, fromLan);
        var (lanWithout, _) = await SendAsync(Lan, "GET", "/api/missions");
        Assert.Equal(401, lanWithout);
    }

    /// <summary>The server on the in-memory test host (no Kestrel), so each request's connection can be set.</summary>
    private sealed class TestHostFactory(Dictionary<string, string?> settings) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment("Testing");
            builder.ConfigureAppConfiguration(config => config.AddInMemoryCollection(settings));
            builder.ConfigureLogging(logging => logging.ClearProviders());
        }
    }
}
