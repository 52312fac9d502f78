using System.Security.Cryptography;
using System.Text;

namespace MissionHub.Auth;

/// <summary>A stored key: everything but the secret, of which only a hash is kept.</summary>
public sealed record ApiKeyRecord(
    string Id,
    string Name,
    IReadOnlyList<string> Roles,
    string? IdPattern,
    double? ExpiresAt,
    double CreatedAt,
    string SecretHash)
{
    public bool IsExpired(double now) => ExpiresAt is { } expires && now >= expires;
}

/// <summary>Secrets, their hashes, names and id patterns.</summary>
public static class ApiKeys
{
    public const string SecretPrefix = "mh_";
    private const string HashPrefix = "sha256:";

    /// <summary>A new secret: <c>mh_</c> and 32 random bytes, base64url.</summary>
    public static string NewSecret() =>
        SecretPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static string NewId() => "key_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    /// <summary><c>sha256:&lt;hex&gt;</c> of the secret. Secrets are 256 random bits, so a fast hash is enough.</summary>
    public static string Hash(string secret)
    {
        Span<byte> digest = stackalloc byte[32];
        var bytes = Encoding.UTF8.GetBytes(secret);
        SHA256.HashData(bytes, digest);
        return HashPrefix + Convert.ToHexStringLower(digest);
    }

    /// <summary>The hash in its canonical form, or null if it is not <c>sha256:</c> and 64 hex digits.</summary>
    public static string? NormalizeHash(string hash)
    {
        var text = hash.Trim();
        if (text.StartsWith(HashPrefix, StringComparison.OrdinalIgnoreCase))
        {
            text = text[HashPrefix.Length..];
        }
        return text.Length == 64 && text.All(char.IsAsciiHexDigit) ? HashPrefix + text.ToLowerInvariant() : null;
    }

    public static bool IsValidName(string? name) =>
        name is { Length: > 0 and <= 64 } && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@');

    public static bool IsValidPattern(string pattern) =>
        pattern.Length is > 0 and <= 128 && pattern.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':' or '*');

    /// <summary>Whether <paramref name="id"/> matches a pattern where <c>*</c> stands for any run of characters.</summary>
    public static bool Matches(string pattern, string id) => Matches(pattern.AsSpan(), id.AsSpan());

    private static bool Matches(ReadOnlySpan<char> pattern, ReadOnlySpan<char> id)
    {
        var star = pattern.IndexOf('*');
        if (star < 0)
        {
            return pattern.SequenceEqual(id);
        }
        if (!id.StartsWith(pattern[..star]))
        {
            return false;
        }
        var rest = pattern[(star + 1)..];
        var tail = id[star..];
        for (var i = 0; i <= tail.Length; i++)
        {
            if (Matches(rest, tail[i..]))
            {
                return true;
            }
        }
        return false;
    }
}
