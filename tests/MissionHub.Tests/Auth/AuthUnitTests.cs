using System.Net;
using Microsoft.Extensions.Options;
using MissionHub.Auth;

namespace MissionHub.Tests.Auth;

/// <summary>Id patterns, secret hashes and the one-line configuration errors.</summary>
public sealed class AuthUnitTests
{
    [Theory]
    [InlineData("render-*", "render-1", true)]
    [InlineData("render-*", "render-", true)]
    [InlineData("render-*", "billing-1", false)]
    [InlineData("render-*", "xrender-1", false)]
    [InlineData("*-eu", "render-eu", true)]
    [InlineData("r-*-eu", "r-7-eu", true)]
    [InlineData("r-*-eu", "r-7-us", false)]
    [InlineData("exact", "exact", true)]
    [InlineData("exact", "exactly", false)]
    [InlineData("*", "anything", true)]
    public void IdPattern_MatchesWithStarWildcards(string pattern, string id, bool expected) =>
        Assert.Equal(expected, ApiKeys.Matches(pattern, id));

    [Fact]
    public void NewSecret_IsPrefixed_AndHashesToTheCanonicalForm()
    {
        var secret = ApiKeys.NewSecret();
        Assert.StartsWith("mh_", secret, StringComparison.Ordinal);
        Assert.True(secret.Length > 40);
        var hash = ApiKeys.Hash(secret);
        Assert.Equal(hash, ApiKeys.NormalizeHash(hash));
        Assert.Equal(hash, ApiKeys.NormalizeHash(hash["sha256:".Length..].ToUpperInvariant()));
        Assert.Null(ApiKeys.NormalizeHash("sha256:abc"));
        Assert.NotEqual(hash, ApiKeys.Hash(ApiKeys.NewSecret()));
    }

    [Fact]
    public void Validator_NamesTheSetting_ForEachMistake()
    {
        var options = new AuthOptions
        {
            Keys =
            [
                new ConfiguredKeyOptions { Name = "ok", Roles = ["viewer"], SecretHash = ApiKeys.Hash("mh_x") },
                new ConfiguredKeyOptions { Name = "no secret", Roles = ["root"] },
                new ConfiguredKeyOptions { Name = "both", Roles = ["admin"], Secret = "mh_0123456789abcdef", SecretHash = ApiKeys.Hash("mh_y") },
            ],
            Jwt = new JwtOptions { Issuer = "https://issuer" },
            AllowedOrigins = ["not an origin"],
        };
        var result = new AuthOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        var failures = string.Join("\n", result.Failures!);
        Assert.Contains("MissionHub:Auth:Keys:1:Name", failures, StringComparison.Ordinal);
        Assert.Contains("MissionHub:Auth:Keys:1:Roles", failures, StringComparison.Ordinal);
        Assert.Contains("MissionHub:Auth:Keys:1: give exactly one of SecretHash", failures, StringComparison.Ordinal);
        Assert.Contains("MissionHub:Auth:Keys:2: give exactly one of SecretHash", failures, StringComparison.Ordinal);
        Assert.Contains("MissionHub:Auth:Jwt:Audience", failures, StringComparison.Ordinal);
        Assert.Contains("SigningKeysFile", failures, StringComparison.Ordinal);
        Assert.Contains("AllowedOrigins", failures, StringComparison.Ordinal);
        Assert.True(new AuthOptionsValidator().Validate(null, new AuthOptions()).Succeeded);
    }

    [Fact]
    public async Task ConfiguredKey_GivenAsAHash_Works_AndCannotBeRevokedThroughTheApi()
    {
        using var folder = new TempFolder();
        var secret = ApiKeys.NewSecret();
        await using var server = MissionHubFactory.WithSqlite(folder.File("hash.db"), new Dictionary<string, string?>
        {
            ["MissionHub:Auth:Keys:0:Name"] = "ops",
            ["MissionHub:Auth:Keys:0:Roles:0"] = "admin",
            ["MissionHub:Auth:Keys:0:SecretHash"] = ApiKeys.Hash(secret),
        });
        using var admin = AuthTestSupport.Client(server, secret);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(new Uri("/api/missions", UriKind.Relative))).StatusCode);
        var keys = await admin.GetJsonAsync("/api/auth/keys");
        var listed = Assert.Single(keys.GetProperty("keys").EnumerateArray());
        Assert.Equal("configuration", listed.GetProperty("source").GetString());
        using var revoke = await admin.DeleteAsync(new Uri($"/api/auth/keys/{listed.GetProperty("id").GetString()}", UriKind.Relative));
        await revoke.AssertProblemAsync(409);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(new Uri("/api/missions", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public void SigningKeys_LoadFromPemAndJwks()
    {
        using var folder = new TempFolder();
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        using var ec = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var pem = folder.File("keys.pem");
        File.WriteAllText(pem, rsa.ExportSubjectPublicKeyInfoPem() + "\n" + ec.ExportSubjectPublicKeyInfoPem());
        Assert.Equal(2, AuthExtensions.LoadSigningKeys(pem).Count);

        var parameters = rsa.ExportParameters(false);
        var jwks = folder.File("keys.json");
        File.WriteAllText(jwks, $$"""{"keys":[{"kty":"RSA","use":"sig","kid":"k1","n":"{{Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(parameters.Modulus)}}","e":"{{Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(parameters.Exponent)}}"}]}""");
        Assert.Single(AuthExtensions.LoadSigningKeys(jwks));
    }
}
