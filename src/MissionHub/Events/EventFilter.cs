using System.Diagnostics.CodeAnalysis;

namespace MissionHub.Events;

/// <summary>
/// Which events a reader wants: type patterns (<c>*</c>, <c>mission.*</c>, <c>job_progress</c>, comma separated)
/// and optionally one target. A pattern is a name of letters, digits, <c>_ . -</c>, optionally ending in <c>*</c>.
/// </summary>
public sealed class EventFilter
{
    public const int MaxPatternLength = 200;

    public static readonly EventFilter All = new([], null);

    // Exact names and prefixes; an empty set of both means "every type".
    private readonly string[] _exact;
    private readonly string[] _prefixes;
    private readonly bool _matchesAllTypes;

    private EventFilter(IReadOnlyList<string> patterns, string? target)
    {
        Patterns = patterns;
        Target = target;
        _exact = patterns.Where(p => !p.EndsWith('*')).ToArray();
        _prefixes = patterns.Where(p => p.EndsWith('*')).Select(p => p[..^1]).ToArray();
        _matchesAllTypes = patterns.Count == 0 || _prefixes.Contains("");
    }

    public IReadOnlyList<string> Patterns { get; }

    public string? Target { get; }

    public bool MatchesAllTypes => _matchesAllTypes;

    public bool IsEverything => _matchesAllTypes && Target is null;

    public static EventFilter Create(string? typePatterns = null, string? target = null)
    {
        if (!TryCreate(typePatterns, target, out var filter, out var error))
        {
            throw new ArgumentException(error, nameof(typePatterns));
        }
        return filter;
    }

    public static bool TryCreate(
        string? typePatterns,
        string? target,
        [NotNullWhen(true)] out EventFilter? filter,
        [NotNullWhen(false)] out string? error) =>
        TryCreate(typePatterns, target, MaxPatternLength, out filter, out error);

    /// <summary>A filter composed by the server itself (e.g. from monitor topics): no limit on the pattern list's length.</summary>
    public static EventFilter FromPatterns(IEnumerable<string> patterns) =>
        TryCreate(string.Join(',', patterns.Distinct(StringComparer.Ordinal)), null, int.MaxValue, out var filter, out var error)
            ? filter
            : throw new ArgumentException(error, nameof(patterns));

    private static bool TryCreate(
        string? typePatterns,
        string? target,
        int maxLength,
        [NotNullWhen(true)] out EventFilter? filter,
        [NotNullWhen(false)] out string? error)
    {
        filter = null;
        var patterns = new List<string>();
        if (!string.IsNullOrEmpty(typePatterns))
        {
            if (typePatterns.Length > maxLength)
            {
                error = $"type pattern is longer than {MaxPatternLength} characters";
                return false;
            }
            foreach (var raw in typePatterns.Split(','))
            {
                var pattern = raw.Trim();
                if (!IsValidPattern(pattern))
                {
                    error = $"'{raw}' is not a valid type pattern: use '*', a name such as 'mission.created', or a prefix ending in '*' such as 'mission.*'";
                    return false;
                }
                patterns.Add(pattern);
            }
        }
        if (target is { Length: 0 or > MaxPatternLength })
        {
            error = $"target must be 1 to {MaxPatternLength} characters";
            return false;
        }
        filter = patterns.Count == 0 && target is null ? All : new EventFilter(patterns, target);
        error = null;
        return true;
    }

    public bool Matches(string type, string? target)
    {
        if (Target is not null && !string.Equals(Target, target, StringComparison.Ordinal))
        {
            return false;
        }
        if (_matchesAllTypes)
        {
            return true;
        }
        foreach (var exact in _exact)
        {
            if (string.Equals(exact, type, StringComparison.Ordinal))
            {
                return true;
            }
        }
        foreach (var prefix in _prefixes)
        {
            if (type.StartsWith(prefix, StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }

    public bool Matches(CharterEvent evt) => Matches(evt.Type, evt.Target);

    private static bool IsValidPattern(string pattern)
    {
        if (pattern.Length == 0)
        {
            return false;
        }
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            var isLast = i == pattern.Length - 1;
            if (c == '*')
            {
                if (!isLast)
                {
                    return false;
                }
                continue;
            }
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-'))
            {
                return false;
            }
        }
        return true;
    }

    public override string ToString() =>
        $"{(Patterns.Count == 0 ? "*" : string.Join(',', Patterns))}{(Target is null ? "" : "@" + Target)}";
}
