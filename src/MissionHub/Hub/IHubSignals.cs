namespace MissionHub.Hub;

/// <summary>
/// How the processes of one hub wake and tell each other (DESIGN.md §6): "work is pending" wakes every process's
/// dispatcher at once (no polling loop), and a notice reaches the one process that holds a worker connection.
/// With SQLite there is one process and this stays inside it.
/// </summary>
public interface IHubSignals
{
    /// <summary>The node id that addresses every process.</summary>
    const string AllNodes = "*";

    /// <summary>This process's id, stored with each worker connection it holds.</summary>
    string NodeId { get; }

    Task StartAsync(Action onWork, Action<HubNotice> onNotice, CancellationToken cancellationToken);

    /// <summary>Wakes every process's dispatcher: jobs became pending.</summary>
    void AnnounceWork();

    /// <summary>Delivers a notice to the process <paramref name="nodeId"/>.</summary>
    void Notify(string nodeId, HubNotice notice);

    /// <summary>True while this process is the one that publishes <c>system_stats</c> for the hub.</summary>
    ValueTask<bool> IsStatsPublisherAsync(CancellationToken cancellationToken);
}

/// <summary>One process: every signal is a call.</summary>
public sealed class LocalHubSignals : IHubSignals
{
    private Action? _onWork;
    private Action<HubNotice>? _onNotice;

    public string NodeId { get; } = "local-" + Guid.NewGuid().ToString("N")[..8];

    public Task StartAsync(Action onWork, Action<HubNotice> onNotice, CancellationToken cancellationToken)
    {
        _onWork = onWork;
        _onNotice = onNotice;
        return Task.CompletedTask;
    }

    public void AnnounceWork() => _onWork?.Invoke();

    public void Notify(string nodeId, HubNotice notice)
    {
        if (nodeId == NodeId || nodeId == IHubSignals.AllNodes)
        {
            _onNotice?.Invoke(notice);
        }
    }

    public ValueTask<bool> IsStatsPublisherAsync(CancellationToken cancellationToken) => ValueTask.FromResult(true);
}
