using System.Diagnostics;
using System.Text.Json;

namespace MissionHub.Client;

/// <summary>The handlers side of <see cref="WorkerClient"/>: one task per assigned job, its span, its outcome queued.</summary>
public sealed partial class WorkerClient
{
    /// <summary>The name of the <see cref="ActivitySource"/> of the handler spans (<c>job.run</c>), for a tracer to listen to.</summary>
    public const string ActivitySourceName = "MissionHub.Client";

    private static readonly ActivitySource HandlerSpans = new(ActivitySourceName);

    /// <summary>A <c>job.run</c> span around the handler, child of the hub's dispatch span when the hub sent one.</summary>
    private static Activity? StartHandlerSpan(JobContext context)
    {
        ActivityContext.TryParse(context.Traceparent, null, isRemote: true, out var parent);
        var span = HandlerSpans.StartActivity("job.run", ActivityKind.Consumer, parent);
        span?.SetTag("missionhub.job.id", context.JobId);
        span?.SetTag("missionhub.job.type", context.JobType);
        span?.SetTag("missionhub.job.attempt", context.Attempt);
        span?.SetTag("missionhub.worker.id", context.WorkerId);
        return span;
    }

    private void StartJob(AssignedJobMessage job, Func<JobContext, CancellationToken, Task<JsonElement?>> handler, CancellationToken stopping)
    {
        var running = new RunningJob(new JobContext(this, _options.WorkerId, job), stopping);
        if (!_running.TryAdd(job.Id, running))
        {
            // Handed back after a reconnect while its handler still runs: that handler's outcome answers for it.
            running.Dispose();
            return;
        }
        running.Task = Task.Run(() => ExecuteAsync(running, handler), CancellationToken.None);
    }

    private async Task ExecuteAsync(RunningJob job, Func<JobContext, CancellationToken, Task<JsonElement?>> handler)
    {
        var context = job.Context;
        var holdsSlot = false;
        string? spanId = null;
        try
        {
            await _slots.WaitAsync(job.Token);
            holdsSlot = true;
            using var span = StartHandlerSpan(context);
            JsonElement? result;
            try
            {
                result = await handler(context, job.Token);
            }
            catch (Exception ex)
            {
                span?.SetStatus(ActivityStatusCode.Error, ex.Message);
                spanId = span?.Id;
                throw;
            }
            context.Finish();
            if (job.CancelledByHub)
            {
                Interlocked.Increment(ref _cancelled);
                return;
            }
            await EnqueueAsync(new Outbound(Serialize(new JobCompletedMessage("job_completed", context.JobId, result, span?.Id),
                MissionHubClientJsonContext.Default.JobCompletedMessage), 0));
            Interlocked.Increment(ref _completed);
        }
        catch (Exception ex)
        {
            context.Finish();
            if (job.CancelledByHub)
            {
                Interlocked.Increment(ref _cancelled);
            }
            else if (ex is OperationCanceledException && job.Token.IsCancellationRequested)
            {
                // Shutdown: send nothing; the hub puts the job back when this worker leaves.
            }
            else
            {
                var error = string.IsNullOrWhiteSpace(ex.Message) ? ex.GetType().FullName ?? "handler failed" : ex.Message;
                await EnqueueAsync(new Outbound(Serialize(new JobFailedMessage("job_failed", context.JobId, error, spanId),
                    MissionHubClientJsonContext.Default.JobFailedMessage), 0));
                Interlocked.Increment(ref _failed);
            }
        }
        finally
        {
            if (holdsSlot)
            {
                _slots.Release();
            }
            _running.TryRemove(new KeyValuePair<string, RunningJob>(context.JobId, job));
            job.Dispose();
        }
    }

    private async Task WaitForHandlersAsync(bool cancel)
    {
        var jobs = _running.Values.ToArray();
        if (cancel)
        {
            foreach (var job in jobs)
            {
                job.Cancel();
            }
        }
        var all = Task.WhenAll(jobs.Select(j => j.Task ?? Task.CompletedTask));
        await Task.WhenAny(all, Task.Delay(_options.ShutdownTimeout, CancellationToken.None));
    }

    private sealed class RunningJob : IDisposable
    {
        private readonly CancellationTokenSource _cancel;
        private int _disposed;

        public RunningJob(JobContext context, CancellationToken stopping)
        {
            Context = context;
            _cancel = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            Token = _cancel.Token;
        }

        public JobContext Context { get; }

        /// <summary>Cancelled by <c>job_cancelled</c> for this job, or by shutdown.</summary>
        public CancellationToken Token { get; }

        public Task? Task { get; set; }

        public bool CancelledByHub
        {
            get => Volatile.Read(ref _cancelledByHub);
            set => Volatile.Write(ref _cancelledByHub, value);
        }

        private bool _cancelledByHub;

        public void Cancel()
        {
            if (Volatile.Read(ref _disposed) == 0)
            {
                try
                {
                    _cancel.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // Finished meanwhile.
                }
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _cancel.Dispose();
            }
        }
    }
}
