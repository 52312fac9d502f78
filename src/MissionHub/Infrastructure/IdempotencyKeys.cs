using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;

namespace MissionHub.Infrastructure;

/// <summary>
/// The <c>Idempotency-Key</c> request header, as every endpoint that takes it reads it: one value of 1 to 128 visible
/// ASCII characters, remembered for <see cref="Window"/> with the fingerprint of the body it came with.
/// </summary>
public static class IdempotencyKeys
{
    public const string Header = "Idempotency-Key";

    /// <summary>How long a key keeps answering with what its first request created (as a job's <c>idempotency_key</c>).</summary>
    public static readonly TimeSpan Window = TimeSpan.FromHours(24);

    /// <summary>The header's key (null when the request has none), or a 400 naming the header.</summary>
    public static bool TryRead(HttpRequest request, out string? key, out ProblemHttpResult? problem)
    {
        key = null;
        problem = null;
        if (!request.Headers.TryGetValue(Header, out var values))
        {
            return true;
        }
        if (values.Count != 1 || values[0] is not { Length: > 0 and <= 128 } value || !value.All(c => c is > ' ' and <= '~'))
        {
            problem = Problems.Invalid(Header, $"the {Header} header must be one value of 1 to 128 visible ASCII characters");
            return false;
        }
        key = value;
        return true;
    }

    /// <summary>The request is its body: the same key with the same bytes is a retry of the same request.</summary>
    public static string Fingerprint(JsonElement body) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(body.GetRawText())));
}

/// <summary>An idempotency key, the fingerprint of the request that carries it, and when the key may be used again.</summary>
public sealed record IdempotencyClaim(string Key, string Fingerprint, double ExpiresAt);
