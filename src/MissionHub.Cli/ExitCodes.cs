namespace MissionHub.Cli;

/// <summary>What <c>missionhub</c> exits with, so scripts can tell outcomes apart.</summary>
public static class ExitCodes
{
    /// <summary>It worked (for <c>jobs submit --wait</c>: the job completed).</summary>
    public const int Ok = 0;

    /// <summary>The hub refused the request (4xx/5xx problem), or a waited-for job ended failed or cancelled.</summary>
    public const int Failed = 1;

    /// <summary>Wrong arguments: unknown command or option, missing or malformed value.</summary>
    public const int Usage = 2;

    /// <summary>The hub could not be reached.</summary>
    public const int Unreachable = 3;

    /// <summary><c>--wait-timeout</c> passed before the job finished.</summary>
    public const int TimedOut = 4;

    /// <summary>Interrupted (Ctrl+C).</summary>
    public const int Interrupted = 130;
}
