namespace MissionHub.Hub;

/// <summary>
/// This process as one node of the hub: opens the job store, joins the other processes' wake-ups and notices,
/// and at shutdown closes its worker connections (their jobs stay leased to their workers to come back to).
/// </summary>
public sealed class HubNode(
    IJobStore store,
    IHubSignals signals,
    JobDispatcher dispatcher,
    WorkerSessions sessions,
    JobHub hub,
    IHostApplicationLifetime lifetime) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.InitializeAsync(cancellationToken);
        await signals.StartAsync(dispatcher.Wake, sessions.Handle, cancellationToken);
        // Close worker sockets as soon as shutdown begins, so the server does not wait on them.
        lifetime.ApplicationStopping.Register(hub.Stop);
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        hub.Stop();
        return Task.CompletedTask;
    }
}
