using Microsoft.Extensions.Options;

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
    IOptions<HubOptions> options,
    TimeProvider time,
    IHostApplicationLifetime lifetime) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.InitializeAsync(cancellationToken);
        // Workers of the previous run get the grace period to come back for their jobs before any is requeued.
        await store.GraceLeasesAsync(Events.EventBus.UnixSeconds(time.GetUtcNow()) + options.Value.RestartGracePeriod.TotalSeconds, cancellationToken);
        await signals.StartAsync(dispatcher.Wake, notice =>
        {
            sessions.Handle(notice);
            dispatcher.Wake(); // a revoked job freed a slot
        }, cancellationToken);
        // Close worker sockets as soon as shutdown begins, so the server does not wait on them.
        lifetime.ApplicationStopping.Register(hub.Stop);
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        hub.Stop();
        return Task.CompletedTask;
    }
}
