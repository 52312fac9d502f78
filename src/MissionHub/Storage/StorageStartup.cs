using Microsoft.Extensions.Options;
using MissionHub.Events;
using MissionHub.Storage.Sqlite;

namespace MissionHub.Storage;

/// <summary>Takes the SQLite file for this process, opens the event log before any other hosted service runs, and says where it is.</summary>
internal sealed partial class StorageStartup(
    IEventLog log, IServiceProvider services, StorageStartupSequence sequence, IOptions<StorageOptions> options, ILogger<StorageStartup> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (!settings.UsesRedis)
        {
            services.GetRequiredService<SqliteFileLock>().Take();
        }
        await sequence.RunAsync("event log", async token =>
        {
            await log.InitializeAsync(token);
            var where = settings.UsesRedis ? settings.Redis.Configuration : Path.GetFullPath(settings.Sqlite.Path);
            LogOpened(logger, log.Provider, where, log.Epoch, log.LastSeq);
        }, cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Storage: {Provider} at {Location}; event log epoch {Epoch}, last seq {LastSeq}")]
    private static partial void LogOpened(ILogger logger, string provider, string location, string epoch, long lastSeq);
}

/// <summary>
/// The start-up steps that need storage, in the order the host starts them. With storage answering they run at once,
/// as the host starts each service. With Redis unreachable a step is kept, the server starts without it (degraded:
/// requests that need storage are answered 503, see <see cref="StorageStatus"/>), and the kept steps run in order
/// once Redis answers, without a restart. SQLite is a local file: a step that fails there fails the start.
/// </summary>
public sealed partial class StorageStartupSequence(
    StorageStatus status, IOptions<StorageOptions> options, IHostApplicationLifetime lifetime, TimeProvider time,
    ILogger<StorageStartupSequence> logger)
{
    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private readonly Queue<(string Name, Func<CancellationToken, Task> Start)> _waiting = new();
    private Task? _retrying;

    /// <summary>Runs <paramref name="start"/> now, or, if storage is unreachable, as soon as it answers (after every step kept before it).</summary>
    public async Task RunAsync(string name, Func<CancellationToken, Task> start, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_waiting.Count > 0)
            {
                // An earlier step is still waiting: this one depends on it, so it waits behind it.
                _waiting.Enqueue((name, start));
                return;
            }
        }
        try
        {
            await start(cancellationToken);
        }
        catch (Exception ex) when (options.Value.UsesRedis && !cancellationToken.IsCancellationRequested && StorageStatus.IsUnavailable(ex))
        {
            status.MarkNotOpen(status.Describe(ex));
            LogStepWaits(logger, name);
            lock (_lock)
            {
                _waiting.Enqueue((name, start));
                _retrying ??= Task.Run(RetryAsync, CancellationToken.None);
            }
        }
    }

    /// <summary>Completes once every kept step has run (at once when none waits); for tests and diagnostics.</summary>
    public Task Retrying
    {
        get
        {
            lock (_lock)
            {
                return _retrying ?? Task.CompletedTask;
            }
        }
    }

    private async Task RetryAsync()
    {
        var stopping = lifetime.ApplicationStopping;
        while (!stopping.IsCancellationRequested)
        {
            (string Name, Func<CancellationToken, Task> Start) step;
            lock (_lock)
            {
                if (!_waiting.TryPeek(out step))
                {
                    _retrying = null;
                    status.MarkOpen();
                    return;
                }
            }
            try
            {
                await step.Start(stopping);
                lock (_lock)
                {
                    _waiting.Dequeue();
                }
                LogStepRan(logger, step.Name);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (StorageStatus.IsUnavailable(ex))
            {
                status.MarkNotOpen(status.Describe(ex));
                try
                {
                    await Task.Delay(RetryInterval, time, stopping);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
            catch (Exception ex)
            {
                // Storage answered but the step is broken: the same end as a failed start, one line and out.
                LogStepFailed(logger, ex, step.Name);
                lifetime.StopApplication();
                return;
            }
        }
    }

    [LoggerMessage(EventId = 2014, Level = LogLevel.Warning, Message = "Start-up step '{Step}' waits for storage")]
    private static partial void LogStepWaits(ILogger logger, string step);

    [LoggerMessage(EventId = 2015, Level = LogLevel.Information, Message = "Start-up step '{Step}' ran once storage answered")]
    private static partial void LogStepRan(ILogger logger, string step);

    [LoggerMessage(EventId = 2016, Level = LogLevel.Critical, Message = "Start-up step '{Step}' failed once storage answered; stopping")]
    private static partial void LogStepFailed(ILogger logger, Exception exception, string step);
}

/// <summary>A hosted service of MissionHub started through the <see cref="StorageStartupSequence"/>: not before storage is open.</summary>
internal sealed class StartedAfterStorage(IHostedService inner, StorageStartupSequence sequence) : IHostedService
{
    private volatile bool _started;

    public Task StartAsync(CancellationToken cancellationToken) =>
        sequence.RunAsync(inner.GetType().Name, async token =>
        {
            await inner.StartAsync(token);
            _started = true;
        }, cancellationToken);

    // One that never started has nothing to stop.
    public Task StopAsync(CancellationToken cancellationToken) => _started ? inner.StopAsync(cancellationToken) : Task.CompletedTask;
}

public static class StorageStartupExtensions
{
    /// <summary>
    /// Every MissionHub hosted service registered so far starts through the storage start-up sequence, in its order:
    /// with Redis down at start-up they wait for it instead of failing the process. Call after every feature is added.
    /// The host's own services (the web server among them) are not MissionHub's and start as usual.
    /// </summary>
    public static IServiceCollection StartHostedServicesAfterStorage(this IServiceCollection services)
    {
        var ours = typeof(StorageStartup).Assembly;
        for (var i = 0; i < services.Count; i++)
        {
            var descriptor = services[i];
            if (descriptor.ServiceType != typeof(IHostedService) || descriptor.IsKeyedService
                || descriptor.ImplementationType == typeof(StorageStartup) || DeclaringAssembly(descriptor) != ours)
            {
                continue;
            }
            services[i] = ServiceDescriptor.Singleton<IHostedService>(sp =>
                new StartedAfterStorage(Create(descriptor, sp), sp.GetRequiredService<StorageStartupSequence>()));
        }
        return services;
    }

    private static System.Reflection.Assembly? DeclaringAssembly(ServiceDescriptor descriptor) =>
        descriptor.ImplementationType?.Assembly
        ?? descriptor.ImplementationFactory?.Method.DeclaringType?.Assembly
        ?? descriptor.ImplementationInstance?.GetType().Assembly;

    private static IHostedService Create(ServiceDescriptor descriptor, IServiceProvider services) => (IHostedService)(
        descriptor.ImplementationInstance
        ?? descriptor.ImplementationFactory?.Invoke(services)
        ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!));
}
