using System.Collections;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using MissionHub.Client;
using OpenTelemetry.Trace;

namespace MissionHub.Tests.Tracing;

/// <summary>One trace from the HTTP submit through dispatch and a real worker's handler to completion, seen by an in-memory exporter in the server.</summary>
public sealed class TracingTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private readonly ExportedSpans _spans = new();
    private MissionHubFactory _factory = null!;

    public Task InitializeAsync()
    {
        _factory = MissionHubFactory.WithSqlite(_folder.File("hub.db"));
        _factory.TestServices = services => services.ConfigureOpenTelemetryTracerProvider(tracing => tracing
            .AddSource(WorkerClient.ActivitySourceName)
            .AddInMemoryExporter(_spans));
        _ = _factory.BaseAddress;
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _factory.DisposeAsync();
        _folder.Dispose();
    }

    [Fact]
    public async Task SubmitDispatchRunAndCompletion_ShareOneTrace_AndParentInOrder()
    {
        string? handlerTraceparent = null;
        var worker = new WorkerClient(new WorkerClientOptions { ServerUri = _factory.BaseAddress, WorkerId = "trace-1", JobTypes = ["render"] });
        using var stop = new CancellationTokenSource();
        var run = worker.RunAsync((job, _) =>
        {
            handlerTraceparent = Activity.Current?.Id;
            return Task.FromResult<JsonElement?>(JsonSerializer.SerializeToElement(new { ok = true }));
        }, stop.Token);
        await Eventually.TrueAsync(() => worker.State == WorkerState.Registered, TimeSpan.FromSeconds(10), "the worker to register");

        using var http = new HttpClient { BaseAddress = _factory.BaseAddress };
        using var response = await http.PostAsJsonAsync("/api/jobs", new { job_type = "render" });
        var job = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var jobId = job["id"]!.GetValue<string>();
        var traceparent = job["traceparent"]!.GetValue<string>();
        var traceId = ActivityContext.Parse(traceparent, null).TraceId;

        await Eventually.TrueAsync(() => _spans.Snapshot().Count(s => s.TraceId == traceId && s.DisplayName is "job.submit" or "job.dispatch" or "job.run" or "job.complete") == 4,
            TimeSpan.FromSeconds(15), "the submit, dispatch, run and complete spans");
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));

        var trace = _spans.Snapshot().Where(s => s.TraceId == traceId).ToList();
        var submit = trace.Single(s => s.DisplayName == "job.submit");
        var dispatch = trace.Single(s => s.DisplayName == "job.dispatch");
        var handler = trace.Single(s => s.DisplayName == "job.run");
        var complete = trace.Single(s => s.DisplayName == "job.complete");
        var server = trace.Single(s => s.Kind == ActivityKind.Server && s.Source.Name == "Microsoft.AspNetCore" && s.SpanId == submit.ParentSpanId);

        Assert.Equal("POST", server.GetTagItem("http.request.method"));
        Assert.Equal(submit.Id, traceparent);
        Assert.Equal(submit.SpanId, dispatch.ParentSpanId);
        Assert.Equal(dispatch.SpanId, handler.ParentSpanId);
        Assert.Equal(handler.SpanId, complete.ParentSpanId);
        Assert.Equal(handler.Id, handlerTraceparent);
        Assert.Equal(WorkerClient.ActivitySourceName, handler.Source.Name);
        Assert.Equal(jobId, handler.GetTagItem("missionhub.job.id"));
        Assert.Equal("trace-1", dispatch.GetTagItem("missionhub.worker.id"));
        // The HTTP client's own span is the root: the server continued the traceparent header it sent.
        Assert.Contains(trace, s => s.Kind == ActivityKind.Client && s.SpanId == server.ParentSpanId);

        // The job's events carry a traceparent of the job's trace in meta: the span that caused each (the submit for
        // job_submitted and job_assigned, the hub's job.complete span for job_completed).
        var events = JsonNode.Parse(await http.GetStringAsync(new Uri($"/api/events?after_seq=0&target=job_{jobId}", UriKind.Relative)))!["events"]!.AsArray();
        Assert.Equal(["job_submitted", "job_assigned", "job_completed"], events.Select(e => e!["type"]!.GetValue<string>()).Where(t => t != "job_status_changed" && t != "job_progress"));
        Assert.All(events, e => Assert.Equal(traceId, ActivityContext.Parse(e!["meta"]!["traceparent"]!.GetValue<string>(), null).TraceId));
        Assert.Equal(traceparent, events.Single(e => e!["type"]!.GetValue<string>() == "job_submitted")!["meta"]!["traceparent"]!.GetValue<string>());
        Assert.Equal(complete.Id, events.Single(e => e!["type"]!.GetValue<string>() == "job_completed")!["meta"]!["traceparent"]!.GetValue<string>());
        var stored = JsonNode.Parse(await http.GetStringAsync(new Uri($"/api/jobs/{jobId}", UriKind.Relative)))!;
        Assert.Equal(traceparent, stored["traceparent"]!.GetValue<string>());
    }

    [Fact]
    public async Task ServiceName_IsMissionHub_InTheMetricsResource()
    {
        using var http = new HttpClient { BaseAddress = _factory.BaseAddress };
        var text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));

        Assert.Contains("service_name=\"missionhub\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("unknown_service", text, StringComparison.Ordinal);
    }

    /// <summary>The exporter's collection, safe to read while the server exports into it.</summary>
    private sealed class ExportedSpans : ICollection<Activity>
    {
        private readonly List<Activity> _items = [];

        public int Count { get { lock (_items) { return _items.Count; } } }

        public bool IsReadOnly => false;

        public List<Activity> Snapshot() { lock (_items) { return [.. _items]; } }

        public void Add(Activity item) { lock (_items) { _items.Add(item); } }

        public void Clear() { lock (_items) { _items.Clear(); } }

        public bool Contains(Activity item) { lock (_items) { return _items.Contains(item); } }

        public void CopyTo(Activity[] array, int arrayIndex) { lock (_items) { _items.CopyTo(array, arrayIndex); } }

        public bool Remove(Activity item) { lock (_items) { return _items.Remove(item); } }

        public IEnumerator<Activity> GetEnumerator() => Snapshot().GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
