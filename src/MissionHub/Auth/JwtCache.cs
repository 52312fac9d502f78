using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace MissionHub.Auth;

/// <summary>
/// Tokens the JWT bearer handler already accepted, by the SHA-256 of the token, until their <c>exp</c> (and for at
/// most <see cref="AuthOptions.KeyCacheTtl"/>), so a client that sends the same token again costs no signature
/// check. Bounded like the key cache.
/// </summary>
public sealed class JwtCache(IOptions<AuthOptions> options, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public ClaimsPrincipal? Find(string token)
    {
        if (_entries.TryGetValue(Hash(token), out var entry))
        {
            if (time.GetUtcNow() < entry.Until)
            {
                return entry.Principal;
            }
            _entries.TryRemove(Hash(token), out _);
        }
        return null;
    }

    public void Add(string token, ClaimsPrincipal principal)
    {
        var now = time.GetUtcNow();
        var until = now + options.Value.KeyCacheTtl;
        if (principal.ExpiresAt() is { } expires && expires < until)
        {
            until = expires;
        }
        if (until <= now)
        {
            return;
        }
        if (_entries.Count >= options.Value.KeyCacheCapacity)
        {
            _entries.Clear();
        }
        _entries[Hash(token)] = new Entry(principal, until);
    }

    private static string Hash(string token) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private sealed record Entry(ClaimsPrincipal Principal, DateTimeOffset Until);
}
