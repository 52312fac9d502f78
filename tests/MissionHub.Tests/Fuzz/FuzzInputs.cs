using System.Text;
using CsCheck;

namespace MissionHub.Tests.Fuzz;

/// <summary>Random and mutated inputs for the parser properties, and how long to run them.</summary>
public static class FuzzInputs
{
    /// <summary>A few seconds per property by default; <c>MISSIONHUB_SOAK=1</c> runs twenty times as many.</summary>
    public static long Iterations(int quick) =>
        Environment.GetEnvironmentVariable("MISSIONHUB_SOAK") == "1" ? quick * 20L : quick;

    /// <summary>What breaks parsers: escapes that are not text, huge and odd numbers, wrong kinds, control characters.</summary>
    private static readonly string[] Tokens =
    [
        "\"\\ud800\"", "\"\\udfff\"", "\"\\u0000\"", "\"\\ud83d\\ude80\"", "null", "true", "-1", "0", "1e309", "-0", "1.5",
        "99999999999999999999999", "[]", "{}", "[[[[[[[[[[]]]]]]]]]]", "\"\"", "\"" + new string('x', 5000) + "\"", "\"\\\\\"",
        "\"PENDING\"", "\"*\"", "\"mission.*\"", "\"\\n\"", "{\"a\":\"\\ud800\"}", "\"\u00e9\"",
    ];

    private static readonly string[] QueryTokens =
    [
        "", "-1", "0", "1", "1000", "1001", "abc", "1e309", "NaN", "Infinity", "99999999999999999999", "*", "mission.*", "a*b", ",",
        "%00", "\ud800", "x" + new string('y', 300), " ", "1.5", "-0", "pending", "PENDING", "cloudevents", "\u00e9", "a:b", "::",
    ];

    /// <summary>One of <paramref name="valid"/>, mutated: a token put in, a value replaced, a range cut, or cut short.</summary>
    public static Gen<string> Mutated(params string[] valid) =>
        Gen.Select(Gen.OneOf(valid), Gen.Int[0, 5], Gen.Int[0, 10_000], Gen.Int[1, 40], Gen.OneOf(Tokens), Mutate)
            .Or(Gen.String)
            .Or(Gen.Char.Array[0, 60].Select(chars => new string(chars)));

    private static Gen<string> Or(this Gen<string> gen, Gen<string> other) => Gen.Frequency((4, gen), (1, other));

    private static string Mutate(string valid, int kind, int at, int length, string token)
    {
        var position = at % (valid.Length + 1);
        switch (kind)
        {
            case 0:
                return valid.Insert(position, token);
            case 1:
                // Replace the value after the next ':' with the token.
                var colon = valid.IndexOf(':', position % Math.Max(valid.Length, 1));
                if (colon < 0)
                {
                    return valid + token;
                }
                var end = valid.IndexOfAny([',', '}'], colon + 1);
                return valid[..(colon + 1)] + token + (end < 0 ? "" : valid[end..]);
            case 2:
                return valid.Remove(position, Math.Min(length, valid.Length - position));
            case 3:
                return valid[..position];
            case 4:
                return valid[..position] + valid + valid[position..];
            default:
                return valid;
        }
    }

    /// <summary>A query string built from <paramref name="names"/> with odd values (each name present or not).</summary>
    public static Gen<string> Query(params string[] names) =>
        Gen.Select(Gen.Bool.Array[names.Length], Gen.OneOf(Gen.OneOf(QueryTokens), Gen.String[0, 40]).Array[names.Length], (present, values) =>
        {
            var query = new StringBuilder();
            for (var i = 0; i < names.Length; i++)
            {
                if (present[i])
                {
                    query.Append(query.Length == 0 ? '?' : '&').Append(names[i]).Append('=').Append(Escape(values[i]));
                }
            }
            return query.ToString();
        });

    /// <summary>Percent-escapes text, lone surrogates included (as the bytes of U+FFFD would not test them: raw %ED%A0%80).</summary>
    public static string Escape(string value)
    {
        var text = new StringBuilder();
        foreach (var c in value)
        {
            if (char.IsSurrogate(c))
            {
                text.Append("%ED%A0%80");
            }
            else
            {
                text.Append(Uri.EscapeDataString(c.ToString()));
            }
        }
        return text.ToString();
    }

    /// <summary>Strings a client could send as an SSE resume point, well-formed or not.</summary>
    public static Gen<string> LastEventId =>
        Gen.OneOf(
            Gen.Select(Gen.String[0, 70], Gen.Long, (epoch, seq) => $"{epoch}:{seq}"),
            Gen.Select(Gen.OneOf("", ":", "::", "a:", ":1", "a:-1", "a:1:2", "a:99999999999999999999", "a: 1", "a:1e3"), Gen.String[0, 3], (t, s) => t + s),
            Gen.String[0, 100]);
}
