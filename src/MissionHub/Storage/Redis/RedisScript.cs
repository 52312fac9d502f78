using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace MissionHub.Storage.Redis;

/// <summary>
/// A Lua script run by its SHA1 (EVALSHA), computed once. The string overload of <c>ScriptEvaluateAsync</c> finds the
/// SHA by hashing the whole script text on every call, which for the job script (tens of KB) was a measurable part of
/// a step's CPU. Until this process has run the script once it is sent whole (EVAL), in call order like every other call;
/// a server that does not know it later (restarted, flushed, another server) answers NOSCRIPT and is sent the text.
/// </summary>
public sealed class RedisScript(string source)
{
#pragma warning disable CA5350 // Redis names a script by its SHA1: an identifier, not a security measure
    private readonly byte[] _sha1 = SHA1.HashData(Encoding.UTF8.GetBytes(source));
#pragma warning restore CA5350
    private volatile bool _loaded;

    public string Source { get; } = source;

    /// <summary>Runs the script. The command is queued on the connection before this returns, so calls are sent in call order.</summary>
    public async Task<RedisResult> EvaluateAsync(IDatabase db, RedisKey[] keys, RedisValue[] args)
    {
        ArgumentNullException.ThrowIfNull(db);
        if (!_loaded)
        {
            var first = await db.ScriptEvaluateAsync(Source, keys, args);
            _loaded = true;
            return first;
        }
        try
        {
            return await db.ScriptEvaluateAsync(_sha1, keys, args);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            return await db.ScriptEvaluateAsync(Source, keys, args);
        }
    }
}
