using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace MissionHub.Tests.Cluster;

/// <summary>
/// Issue 12's defects of the in-process hub, each named after what broke, on real server processes sharing one
/// Redis: cross-process submit and cancel, the ghost job of an aborted submit, jobs of a worker that reconnects
/// under the same id, and a second connection of one worker id on another process.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterRegressionTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task SubmitOnOneProcess_IsDispatchedToAWorkerOnAnother()
    {
        await using var cluster = await fixture.StartClusterAsync(2);
        await using var worker = await RawWorker.RegisterAsync(cluster[1].BaseAddress, "w-b", ["cross"]);

        var submitted = await SubmitAsync(cluster.Client(0), new { job_type = "cross", payload = new { n = 1 } });
        var job = await worker.ExpectJobAsync(Wait, "the job submitted on the other process");

        Assert.Equal(submitted, job.GetProperty("id").GetString());
        Assert.Equal(1, job.GetProperty("attempt").GetInt32());
        await worker.CompleteAsync(submitted, new { ok = true });
        foreach (var p in new[] { 0, 1 })
        {
            await Eventually.TrueAsync(async () => (await cluster.Client(p).GetJsonAsync($"/api/jobs/{submitted}")).GetProperty("status").GetString() == "completed",
                Wait, $"the job to be completed as seen by process {p}");
        }
    }

    [Fact]
    public async Task CancelOnAnotherProcess_CancelsTheJob()
    {
        await using var cluster = await fixture.StartClusterAsync(2);
        var id = await SubmitAsync(cluster.Client(0), new { job_type = "nobody-takes-this" });

        using var cancelled = await cluster.Client(1).PostAsync(new Uri($"/api/jobs/{id}/cancel", UriKind.Relative), null);

        Assert.True(cancelled.StatusCode == HttpStatusCode.OK, $"cancel on the other process answered {(int)cancelled.StatusCode}: {await cancelled.Content.ReadAsStringAsync()}");
        Assert.Equal("cancelled", (await cancelled.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        Assert.Equal("cancelled", (await cluster.Client(0).GetJsonAsync($"/api/jobs/{id}")).GetProperty("status").GetString());
        Assert.Equal("cancelled", (await cluster.Client(1).GetJsonAsync($"/api/jobs/{id}")).GetProperty("status").GetString());
        // Now finished: a second cancel is refused, on either process; an unknown id is 404.
        using var again = await cluster.Client(0).PostAsync(new Uri($"/api/jobs/{id}/cancel", UriKind.Relative), null);
        await again.AssertProblemAsync(409);
        using var unknown = await cluster.Client(1).PostAsync(new Uri("/api/jobs/no-such-job/cancel", UriKind.Relative), null);
        await unknown.AssertProblemAsync(404);
        // And a worker that comes later is not handed the cancelled job.
        await using var worker = await RawWorker.RegisterAsync(cluster[0].BaseAddress, "w-late", ["nobody-takes-this"]);
        await worker.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(500));
    }

    [Fact]
    public async Task SubmitWhoseClientAborts_IsStillDispatched()
    {
        await using var cluster = await fixture.StartClusterAsync(1); // the defect is within one process
        var jobType = "ghost";
        // Clients that send the whole POST and close the connection without reading the answer. The closes are
        // spread from at once to a little after the send, so that some land before the job is stored (nothing to
        // dispatch: fine) and some while or after it is stored (it must be dispatched). How long a store takes depends
        // on the machine's load, so a round in which every close came first is repeated with a wider spread.
        const int aborted = 40;
        var spread = TimeSpan.FromMilliseconds(0.25);
        for (var round = 0; ; round++)
        {
            await Task.WhenAll(Enumerable.Range(0, aborted).Select(i =>
                PostAndAbortAsync(cluster[0].BaseAddress, JsonSerializer.Serialize(new { job_type = jobType, payload = new { n = i } }), spread * i)));
            try
            {
                // Whatever was stored must be dispatchable: wait until stored jobs show up as pending...
                await Eventually.TrueAsync(async () => await ClusterViews.CountJobsAsync(cluster.Client(0), "pending", jobType) > 0,
                    TimeSpan.FromSeconds(5), "an aborted submit to be stored as a pending job");
                break;
            }
            catch (TimeoutException) when (round < 4)
            {
                spread *= 4;
            }
        }

        // ...then a worker is handed every stored job, and each completes.
        await using var worker = await RawWorker.RegisterAsync(cluster[0].BaseAddress, "w-ghost", [jobType], slots: aborted + 1);
        using var stop = new CancellationTokenSource();
        var draining = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var job = await worker.ReceiveJobAsync(TimeSpan.FromMilliseconds(200));
                    await worker.CompleteAsync(job.GetProperty("id").GetString()!);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });
        var marker = await SubmitAsync(cluster.Client(0), new { job_type = jobType, payload = new { marker = true } });
        var unfinished = -1;
        try
        {
            await Eventually.TrueAsync(async () =>
            {
                var client = cluster.Client(0);
                unfinished = await ClusterViews.CountJobsAsync(client, "pending", jobType)
                    + await ClusterViews.CountJobsAsync(client, "assigned", jobType)
                    + await ClusterViews.CountJobsAsync(client, "running", jobType);
                return unfinished == 0 && (await client.GetJsonAsync($"/api/jobs/{marker}")).GetProperty("status").GetString() == "completed";
            }, Wait, "every stored job of the aborted submits to be dispatched and completed");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}: {unfinished} left unfinished (ghost jobs: stored, listed, never dispatched)", ex);
        }
        finally
        {
            await stop.CancelAsync();
            await draining;
        }
        var completed = await ClusterViews.CountJobsAsync(cluster.Client(0), "completed", jobType);
        Assert.True(completed >= 2, $"expected at least one aborted submit besides the marker to be completed, got {completed}");
    }

    [Fact]
    public async Task WorkerReconnectingUnderTheSameId_GetsItsAssignedJobsAgain()
    {
        await using var cluster = await fixture.StartClusterAsync(2);
        var first = await RawWorker.RegisterAsync(cluster[0].BaseAddress, "w-same", ["resend"]);
        var id = await SubmitAsync(cluster.Client(0), new { job_type = "resend" });
        var assigned = await first.ExpectJobAsync(Wait, "the job, on the first connection");
        Assert.Equal(id, assigned.GetProperty("id").GetString());

        // Dropped before any progress; the same worker comes back on the other process, knowing nothing.
        first.Kill();
        await first.DisposeAsync();
        await using var second = await RawWorker.RegisterAsync(cluster[1].BaseAddress, "w-same", ["resend"]);

        var again = await second.ExpectJobAsync(Wait, "the same job re-sent to the new connection of the same worker_id on the other process");
        Assert.Equal(id, again.GetProperty("id").GetString());
        await second.CompleteAsync(id);
        await Eventually.TrueAsync(async () => (await cluster.Client(0).GetJsonAsync($"/api/jobs/{id}")).GetProperty("status").GetString() == "completed",
            Wait, "the re-sent job to complete");
        var history = await ClusterEvents.ReadHistoryAsync(cluster.Client(1));
        history.AssertExactlyOnce([id]);
    }

    [Fact]
    public async Task ReconnectWithHeldJobs_KeepsThemAndCanComplete()
    {
        await using var cluster = await fixture.StartClusterAsync(2);
        var first = await RawWorker.RegisterAsync(cluster[0].BaseAddress, "w-held", ["held"], slots: 2);
        var assignedId = await SubmitAsync(cluster.Client(0), new { job_type = "held", priority = 5 });
        var runningId = await SubmitAsync(cluster.Client(0), new { job_type = "held" });
        Assert.Equal(assignedId, (await first.ExpectJobAsync(Wait, "the first job")).GetProperty("id").GetString());
        Assert.Equal(runningId, (await first.ExpectJobAsync(Wait, "the second job")).GetProperty("id").GetString());
        await first.ProgressAsync(runningId, 0.5);
        await Eventually.TrueAsync(async () => (await cluster.Client(1).GetJsonAsync($"/api/jobs/{runningId}")).GetProperty("status").GetString() == "running",
            Wait, "the progressed job to be running");

        // The worker's process dies (kill -9); the worker, still working on both, registers on the other process.
        await cluster.KillAsync(0);
        await first.DisposeAsync();
        await using var second = await RawWorker.RegisterAsync(cluster[1].BaseAddress, "w-held", ["held"], slots: 2, heldJobs: [assignedId, runningId]);

        // Kept: not re-sent, not requeued; the worker finishes them on the new connection.
        await second.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(500));
        await second.ProgressAsync(runningId, 0.9);
        await second.CompleteAsync(runningId, new { n = 1 });
        await second.CompleteAsync(assignedId, new { n = 2 });
        foreach (var id in new[] { assignedId, runningId })
        {
            await Eventually.TrueAsync(async () => (await cluster.Client(1).GetJsonAsync($"/api/jobs/{id}")).GetProperty("status").GetString() == "completed",
                Wait, $"held job {id} to complete");
            var job = await cluster.Client(1).GetJsonAsync($"/api/jobs/{id}");
            Assert.Equal(1, job.GetProperty("attempts").GetInt32());
            Assert.Equal("w-held", job.GetProperty("worker_id").GetString());
        }
        await second.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(200)); // no job_not_held for either
        var history = await ClusterEvents.ReadHistoryAsync(cluster.Client(1));
        history.AssertExactlyOnce([assignedId, runningId]);
        Assert.Equal(0, history.Requeued);
    }

    [Fact]
    public async Task SecondConnectionWithTheSameWorkerId_OnAnotherProcess_ReplacesTheFirst()
    {
        await using var cluster = await fixture.StartClusterAsync(2);
        await using var first = await RawWorker.RegisterAsync(cluster[0].BaseAddress, "w-twice", ["replace"]);
        await using var second = await RawWorker.RegisterAsync(cluster[1].BaseAddress, "w-twice", ["replace"]);

        try
        {
            await first.WaitForCloseAsync(Wait);
        }
        catch (TimeoutException)
        {
            Assert.Fail("the first connection of w-twice (on process 0) was not closed when w-twice registered on process 1");
        }
        Assert.Equal("replaced", first.CloseDescription);

        // One worker w-twice, connected, as every process tells; new work goes to the new connection.
        foreach (var p in new[] { 0, 1 })
        {
            await Eventually.TrueAsync(async () =>
            {
                var agents = await ClusterViews.WorkerAgentsAsync(cluster.Client(p));
                return agents.Count == 1 && agents.GetValueOrDefault("w-twice") is "idle" or "busy";
            }, Wait, $"process {p} to list w-twice once, connected");
        }
        var id = await SubmitAsync(cluster.Client(0), new { job_type = "replace" });
        Assert.Equal(id, (await second.ExpectJobAsync(Wait, "new work to go to the replacing connection")).GetProperty("id").GetString());
    }

    private static async Task<string> SubmitAsync(HttpClient client, object body)
    {
        using var response = await client.PostAsJsonAsync(new Uri("/api/jobs", UriKind.Relative), body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST /api/jobs answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetString()!;
    }

    /// <summary>Sends a complete <c>POST /api/jobs</c> on a raw socket and closes the connection <paramref name="closeAfter"/> later, its answer unread.</summary>
    private static async Task PostAndAbortAsync(Uri baseAddress, string json, TimeSpan closeAfter)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var head = Encoding.ASCII.GetBytes(
            $"POST /api/jobs HTTP/1.1\r\nHost: {baseAddress.Authority}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n");
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, baseAddress.Port);
        await socket.SendAsync(head.Concat(body).ToArray());
        // Where the close lands relative to the server's work (a sweep of abort points, not a wait for anything).
        // Spinning gives sub-millisecond spacing; a longer spread is timer-accurate enough.
        if (closeAfter > TimeSpan.FromMilliseconds(20))
        {
            await Task.Delay(closeAfter);
        }
        else
        {
            var sent = System.Diagnostics.Stopwatch.StartNew();
            while (sent.Elapsed < closeAfter)
            {
                Thread.SpinWait(100);
            }
        }
        // Gone before the answer: the request is complete in the server's buffer, and the connection is closed.
        socket.Shutdown(SocketShutdown.Both);
        socket.Close();
    }
}
