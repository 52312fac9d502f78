using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace MissionHub.Tests.Auth;

/// <summary>Keys for each role (from configuration), a JWT issuer with an RSA key made here, and helpers to send them.</summary>
public sealed class AuthTestSupport : IDisposable
{
    public const string Issuer = "https://issuer.test";
    public const string Audience = "missionhub-tests";

    public static readonly IReadOnlyDictionary<string, string> RoleKeys = new Dictionary<string, string>
    {
        ["viewer"] = "mh_test-viewer-secret-0000000000000001",
        ["operator"] = "mh_test-operator-secret-00000000000002",
        ["admin"] = "mh_test-admin-secret-0000000000000003",
        ["worker"] = "mh_test-worker-secret-000000000000004",
        ["robot"] = "mh_test-robot-secret-0000000000000005",
    };

    private readonly RSA _rsa = RSA.Create(2048);
    private readonly TempFolder _folder = new();

    public AuthTestSupport()
    {
        PublicKeyFile = _folder.File("jwt-public.pem");
        File.WriteAllText(PublicKeyFile, _rsa.ExportSubjectPublicKeyInfoPem());
    }

    public string PublicKeyFile { get; }

    public TempFolder Folder => _folder;

    /// <summary>A key per role (worker for render-*, robot for r-*), plus JWT settings when asked.</summary>
    public Dictionary<string, string?> Settings(bool jwt = true, IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>();
        var i = 0;
        foreach (var (role, secret) in RoleKeys)
        {
            settings[$"MissionHub:Auth:Keys:{i}:Name"] = $"{role}-key";
            settings[$"MissionHub:Auth:Keys:{i}:Roles:0"] = role;
            settings[$"MissionHub:Auth:Keys:{i}:Secret"] = secret;
            if (role == "worker")
            {
                settings[$"MissionHub:Auth:Keys:{i}:IdPattern"] = "render-*";
            }
            if (role == "robot")
            {
                settings[$"MissionHub:Auth:Keys:{i}:IdPattern"] = "r-*";
            }
            i++;
        }
        if (jwt)
        {
            settings["MissionHub:Auth:Jwt:Issuer"] = Issuer;
            settings["MissionHub:Auth:Jwt:Audience"] = Audience;
            settings["MissionHub:Auth:Jwt:SigningKeysFile"] = PublicKeyFile;
            settings["MissionHub:Auth:Jwt:ClockSkew"] = "00:00:00";
        }
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }
        return settings;
    }

    /// <summary>A JWT signed with the test's RSA key.</summary>
    public string Token(string subject, string[] roles, TimeSpan? lifetime = null, string audience = Audience, string issuer = Issuer, DateTime? notBefore = null)
    {
        var now = DateTime.UtcNow;
        var start = notBefore ?? now.AddMinutes(-1);
        var expires = now + (lifetime ?? TimeSpan.FromMinutes(10));
        if (expires <= start)
        {
            start = expires.AddMinutes(-1);
        }
        var claims = new Dictionary<string, object> { ["sub"] = subject, ["roles"] = roles };
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = claims,
            IssuedAt = start,
            NotBefore = start,
            Expires = expires,
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(_rsa), SecurityAlgorithms.RsaSha256),
        });
    }

    public static HttpClient Client(MissionHubFactory server, string? credential = null)
    {
        var client = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (credential is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        }
        return client;
    }

    public static Uri SocketUri(MissionHubFactory server, string path) =>
        new UriBuilder(new Uri(server.BaseAddress, path)) { Scheme = "ws" }.Uri;

    public static async Task<ClientWebSocket> ConnectAsync(MissionHubFactory server, string path, string? credential = null, string? origin = null)
    {
        var socket = new ClientWebSocket();
        if (credential is not null)
        {
            socket.Options.SetRequestHeader("Authorization", "Bearer " + credential);
        }
        if (origin is not null)
        {
            socket.Options.SetRequestHeader("Origin", origin);
        }
        socket.Options.CollectHttpResponseDetails = true;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await socket.ConnectAsync(SocketUri(server, path), timeout.Token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return socket;
    }

    /// <summary>The HTTP status of a refused handshake.</summary>
    public static async Task<int> HandshakeStatusAsync(MissionHubFactory server, string path, string? credential = null, string? origin = null)
    {
        using var socket = new ClientWebSocket();
        if (credential is not null)
        {
            socket.Options.SetRequestHeader("Authorization", "Bearer " + credential);
        }
        if (origin is not null)
        {
            socket.Options.SetRequestHeader("Origin", origin);
        }
        socket.Options.CollectHttpResponseDetails = true;
        try
        {
            await socket.ConnectAsync(SocketUri(server, path), CancellationToken.None);
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
            return 101;
        }
        catch (WebSocketException)
        {
            return (int)socket.HttpStatusCode;
        }
    }

    public static Task SendJsonAsync(WebSocket socket, object message) =>
        socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(message), WebSocketMessageType.Text, true, CancellationToken.None);

    /// <summary>The next message (text frames as JSON); a close is returned as a null element with the close status.</summary>
    public static async Task<(JsonElement? Frame, WebSocketCloseStatus? Close, string? Reason)> ReceiveAsync(WebSocket socket, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var buffer = new byte[1 << 20];
        var count = 0;
        WebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(new ArraySegment<byte>(buffer, count, buffer.Length - count), cancel.Token);
            count += result.Count;
        }
        while (!result.EndOfMessage);
        if (result.MessageType == WebSocketMessageType.Close)
        {
            return (null, result.CloseStatus, result.CloseStatusDescription);
        }
        return (JsonDocument.Parse(Encoding.UTF8.GetString(buffer, 0, count)).RootElement.Clone(), null, null);
    }

    /// <summary>Reads until a frame of the given type arrives.</summary>
    public static async Task<JsonElement> ReceiveTypeAsync(WebSocket socket, string type, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var (frame, close, reason) = await ReceiveAsync(socket, deadline - DateTime.UtcNow);
            if (frame is null)
            {
                throw new InvalidOperationException($"socket closed ({close}: {reason}) while waiting for '{type}'");
            }
            if (frame.Value.GetProperty("type").GetString() == type)
            {
                return frame.Value;
            }
        }
    }

    public void Dispose()
    {
        _rsa.Dispose();
        _folder.Dispose();
    }
}
