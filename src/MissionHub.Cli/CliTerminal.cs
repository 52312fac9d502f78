namespace MissionHub.Cli;

/// <summary>
/// What the tool knows about the terminal around it: whether stdout and stderr are terminals (live views, spinners) and
/// the keyboard to ask for confirmation on, null when stdin is not a terminal (a pipe, a script, a test).
/// </summary>
public sealed record CliTerminal(bool OutputIsTerminal, bool ErrorIsTerminal, TextReader? Keyboard)
{
    /// <summary>No terminal: output is one-shot and confirmations need <c>--yes</c>.</summary>
    public static CliTerminal None { get; } = new(false, false, null);

    /// <summary>The process's own console, as redirected or not.</summary>
    public static CliTerminal FromConsole() =>
        new(!Console.IsOutputRedirected, !Console.IsErrorRedirected, Console.IsInputRedirected ? null : Console.In);
}
