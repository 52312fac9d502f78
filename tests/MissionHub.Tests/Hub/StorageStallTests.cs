using System.Net.Http.Json;
using System.Reflection;
using System.Text.Json;
using MissionHub.Hub;
using MissionHub.Storage.Sqlite;

namespace MissionHub.Tests.Hub;

/// <summary>A slow store is the server being busy, not the worker being silent: it never costs a healthy worker its jobs.</summary>
public sealed class StorageStallTests
{
    [Fact]
    public async Task StorageStall_LongerThanTheHeartbeatTimeout_KeepsTheWorkerConnected_AndItsJobNotRequeued()
    {
        using var folder = new TempFolder();
        var stall = new StallingJobStore.Stall();
        await using var factory = MissionHubFactory.WithSqlite(folder.File("stall.db"), new Dictionary<string, string?>
        {
            ["MissionHub:Hub:WorkerHeartbeatTimeout"] = "00:00:01",
            ["MissionHub:Hub:RestartGracePeriod"] = "00:00:00",
        });
        factory.TestServices = services => services.AddSingleton<IJobStore>(sp => StallingJobStore.Wrap(sp.GetRequiredService<SqliteJobStore>(), stall));
        using var client = factory.CreateClient();
        await using var worker = await RawWorker.RegisterAsync(factory, "w-patient", ["render"]);
        worker.StartHeartbeats(TimeSpan.FromMilliseconds(200));

        using var submitted = await client.PostAsJsonAsync("/api/jobs", new { job_type = "render", payload = new { } });
        var id = (await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        var job = await worker.ExpectJobAsync(TimeSpan.FromSeconds(10), "the render job");
        Assert.Equal(1, job.GetProperty("attempt").GetInt32());

        // The store takes three heartbeat timeouts over this worker's progress report; its heartbeats wait meanwhile.
        stall.Next = TimeSpan.FromSeconds(3);
        await worker.ProgressAsync(id, 0.5);
        await Eventually.TrueAsync(() => stall.Finished, TimeSpan.FromSeconds(15), "the stalled store call to finish");
        await Eventually.TrueAsync(async () => (await GetJobAsync(client, id)).GetProperty("progress").GetDouble() == 0.5,
            TimeSpan.FromSeconds(10), "the progress to be stored");

        // After the stall the connection is the same one: still its job, first attempt.
        await worker.ProgressAsync(id, 0.6);
        await Eventually.TrueAsync(async () => (await GetJobAsync(client, id)).GetProperty("progress").GetDouble() == 0.6,
            TimeSpan.FromSeconds(10), "the next progress to be stored");
        var during = await GetJobAsync(client, id);
        Assert.Equal("w-patient", during.GetProperty("worker_id").GetString());
        Assert.Equal(1, during.GetProperty("attempts").GetInt32());
        Assert.Null(worker.CloseStatus);

        await worker.CompleteAsync(id, new { ok = true });
        await Eventually.TrueAsync(async () => (await GetJobAsync(client, id)).GetProperty("status").GetString() == "completed",
            TimeSpan.FromSeconds(10), "the job to complete");
        var done = await GetJobAsync(client, id);
        Assert.Equal(1, done.GetProperty("attempts").GetInt32());
        Assert.DoesNotContain(factory.Logs.Entries, e => e.Message.Contains("heartbeat_timeout", StringComparison.Ordinal));
        Assert.Null(worker.CloseStatus);
    }

    private static async Task<JsonElement> GetJobAsync(HttpClient client, string id) =>
        await client.GetFromJsonAsync<JsonElement>($"/api/jobs/{id}");

    /// <summary>The real store, with a one-time delay before the next <c>ProgressAsync</c> (a write stall).</summary>
    public class StallingJobStore : DispatchProxy
    {
        private IJobStore _inner = null!;
        private Stall _stall = null!;

        public sealed class Stall
        {
            private long _nextTicks;
            private int _finished;

            public TimeSpan Next
            {
                get => TimeSpan.FromTicks(Interlocked.Read(ref _nextTicks));
                set => Interlocked.Exchange(ref _nextTicks, value.Ticks);
            }

            public bool Finished => Volatile.Read(ref _finished) == 1;

            public TimeSpan Take() => TimeSpan.FromTicks(Interlocked.Exchange(ref _nextTicks, 0));

            public void Done() => Volatile.Write(ref _finished, 1);
        }

        public static IJobStore Wrap(IJobStore inner, Stall stall)
        {
            var proxy = Create<IJobStore, StallingJobStore>();
            var self = (StallingJobStore)(object)proxy;
            self._inner = inner;
            self._stall = stall;
            return proxy;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            ArgumentNullException.ThrowIfNull(targetMethod);
            if (targetMethod.Name == nameof(IJobStore.ProgressAsync) && _stall.Take() is { } delay && delay > TimeSpan.Zero)
            {
                return DelayedAsync(delay, () => (Task<JobStep>)targetMethod.Invoke(_inner, args)!);
            }
            try
            {
                return targetMethod.Invoke(_inner, args);
            }
            catch (TargetInvocationException ex) when (ex.InnerException is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
                throw;
            }
        }

        private async Task<JobStep> DelayedAsync(TimeSpan delay, Func<Task<JobStep>> call)
        {
            // The stall is what is under test: the server is busy this long with the worker's frame.
            await Task.Delay(delay);
            try
            {
                return await call();
            }
            finally
            {
                _stall.Done();
            }
        }
    }
}
