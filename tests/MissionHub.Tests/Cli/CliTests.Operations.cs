using System.Text.Json;
using System.Text.Json.Nodes;
using MissionHub.Cli;

namespace MissionHub.Tests.Cli;

/// <summary>The operator commands (retry and purge, queues, schedules, keys) against the real server, checked through REST.</summary>
public sealed partial class CliTests
{
    private HttpClient Rest(string? apiKey = null)
    {
        var http = new HttpClient { BaseAddress = _factory.BaseAddress };
        if (apiKey is not null)
        {
            http.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        }
        return http;
    }

    private async Task<JsonNode> GetJsonAsync(string path)
    {
        using var http = Rest();
        return JsonNode.Parse(await http.GetStringAsync(new Uri(path, UriKind.Relative)))!;
    }

    /// <summary>Submits <paramref name="count"/> jobs that no worker takes and cancels them, through REST.</summary>
    private async Task<List<string>> CancelledJobsAsync(string jobType, int count)
    {
        using var http = Rest();
        var ids = new List<string>();
        for (var i = 0; i < count; i++)
        {
            using var submitted = await http.PostAsync(new Uri("/api/jobs", UriKind.Relative),
                new StringContent($$"""{"job_type":"{{jobType}}"}""", System.Text.Encoding.UTF8, "application/json"));
            submitted.EnsureSuccessStatusCode();
            var id = JsonNode.Parse(await submitted.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
            using var cancelled = await http.PostAsync(new Uri($"/api/jobs/{id}/cancel", UriKind.Relative), content: null);
            cancelled.EnsureSuccessStatusCode();
            ids.Add(id);
        }
        return ids;
    }

    private static void AssertOneLine(Outcome outcome, int exitCode, string mentions)
    {
        Assert.Equal(exitCode, outcome.ExitCode);
        var lines = outcome.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("missionhub: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(mentions, lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task JobsRetry_OfAFailedJob_MakesItPendingAgain_WithAttemptsFromZero()
    {
        await StartWorkerAsync("cli-fail", (_, _) => throw new InvalidOperationException("always fails"));
        var failed = await RunAsync("jobs", "submit", "render", "--max-attempts", "1", "--wait", "--wait-timeout", "30", "-o", "json");
        Assert.Equal("failed", failed.Json["status"]!.GetValue<string>());
        var id = failed.Json["id"]!.GetValue<string>();
        await StopWorkersAsync();

        var retried = await RunAsync("jobs", "retry", id, "-o", "json");

        Assert.True(retried.ExitCode == ExitCodes.Ok, retried.Error);
        Assert.Equal("pending", retried.Json["status"]!.GetValue<string>());
        var stored = await GetJsonAsync($"/api/jobs/{id}");
        Assert.Equal("pending", stored["status"]!.GetValue<string>());
        Assert.Equal(0, stored["attempts"]!.GetValue<int>());

        // Pending now, so a second retry is a conflict; an unknown id is not found; each one line naming the status.
        AssertOneLine(await RunAsync("jobs", "retry", id), ExitCodes.Failed, "409");
        AssertOneLine(await RunAsync("jobs", "retry", "no-such-job"), ExitCodes.Failed, "404");
    }

    [Fact]
    public async Task BulkRetryAndPurge_WithYes_ReportTheCount_AndTouchOnlyTheFilteredJobs()
    {
        var batch = await CancelledJobsAsync("batch", 3);
        var other = (await CancelledJobsAsync("other", 1)).Single();

        var retried = await RunAsync("jobs", "retry", "--status", "cancelled", "--job-type", "batch", "--yes", "-o", "json");

        Assert.True(retried.ExitCode == ExitCodes.Ok, retried.Error);
        Assert.Equal(3, retried.Json["retried"]!.GetValue<int>());
        Assert.Equal(0, retried.Json["purged"]!.GetValue<int>());
        foreach (var id in batch)
        {
            Assert.Equal("pending", (await GetJsonAsync($"/api/jobs/{id}"))["status"]!.GetValue<string>());
        }
        Assert.Equal("cancelled", (await GetJsonAsync($"/api/jobs/{other}"))["status"]!.GetValue<string>());

        var purged = await RunAsync("jobs", "purge", "--status", "cancelled", "--yes");

        Assert.True(purged.ExitCode == ExitCodes.Ok, purged.Error);
        Assert.Equal("purged 1 job", purged.Output.Trim());
        using var http = Rest();
        using var gone = await http.GetAsync(new Uri($"/api/jobs/{other}", UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Equal("pending", (await GetJsonAsync($"/api/jobs/{batch[0]}"))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task BulkRetry_FinishedWithin_TakesOnlyTheJobsThatFinishedInThatSpan()
    {
        var older = await CancelledJobsAsync("window", 2);
        var olderFinished = (await GetJsonAsync($"/api/jobs/{older[^1]}"))["completed_at"]!.GetValue<double>();
        // The span is what this test is about: the older jobs must lie more than 4 s back when the command runs.
        await Eventually.TrueAsync(() => Task.FromResult(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 > olderFinished + 5),
            TimeSpan.FromSeconds(10), "five seconds to pass since the older jobs finished");
        var recent = (await CancelledJobsAsync("window", 1)).Single();

        var retried = await RunAsync("jobs", "retry", "--status", "cancelled", "--finished-within", "4s", "--yes", "-o", "json");

        Assert.True(retried.ExitCode == ExitCodes.Ok, retried.Error);
        Assert.Equal(1, retried.Json["retried"]!.GetValue<int>());
        Assert.Equal("pending", (await GetJsonAsync($"/api/jobs/{recent}"))["status"]!.GetValue<string>());
        foreach (var id in older)
        {
            Assert.Equal("cancelled", (await GetJsonAsync($"/api/jobs/{id}"))["status"]!.GetValue<string>());
        }
        AssertOneLine(await RunAsync("jobs", "retry", "--finished-within", "soon", "--yes"), ExitCodes.Usage, "--finished-within");
    }

    [Theory]
    [InlineData("retry")]
    [InlineData("purge")]
    public async Task BulkChange_WithoutYes_AndNoTerminal_RefusesInOneLine_AndChangesNothing(string verb)
    {
        var id = (await CancelledJobsAsync("batch", 1)).Single();

        var refused = await RunAsync("jobs", verb, "--status", "cancelled");

        AssertOneLine(refused, ExitCodes.Usage, "--yes");
        Assert.Equal("", refused.Output);
        Assert.Equal("cancelled", (await GetJsonAsync($"/api/jobs/{id}"))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task JobsSubmit_WithDelayAndDependsOn_StoresThemOnTheJob()
    {
        var first = await RunAsync("jobs", "submit", "nobody-runs-it", "-o", "json");
        var firstId = first.Json["id"]!.GetValue<string>();

        var second = await RunAsync("jobs", "submit", "later", "--delay-s", "120", "--depends-on", firstId, "-o", "json");

        Assert.True(second.ExitCode == ExitCodes.Ok, second.Error);
        var stored = await GetJsonAsync($"/api/jobs/{second.Json["id"]!.GetValue<string>()}");
        Assert.Equal([firstId], stored["depends_on"]!.AsArray().Select(x => x!.GetValue<string>()));
        Assert.Equal([firstId], stored["waiting_for"]!.AsArray().Select(x => x!.GetValue<string>()));
        Assert.InRange(stored["run_at"]!.GetValue<double>() - stored["created_at"]!.GetValue<double>(), 119.9, 120.1);
        AssertOneLine(await RunAsync("jobs", "submit", "later", "--depends-on", "no-such-job"), ExitCodes.Failed, "depends_on");
    }

    [Fact]
    public async Task QueuesPause_ShowsPausedInTheList_AndResumeUndoesIt()
    {
        await RunAsync("jobs", "submit", "encode");

        var paused = await RunAsync("queues", "pause", "encode", "-o", "json");
        Assert.True(paused.ExitCode == ExitCodes.Ok, paused.Error);
        Assert.True(paused.Json["changed"]!.GetValue<bool>());

        var listed = await RunAsync("queues", "-o", "json");
        var encode = listed.Json["queues"]!.AsArray().Single(q => q!["job_type"]!.GetValue<string>() == "encode")!;
        Assert.True(encode["paused"]!.GetValue<bool>());
        Assert.Equal(1, encode["pending"]!.GetValue<long>());
        Assert.True((await GetJsonAsync("/api/queues"))["queues"]!.AsArray().Single()!["paused"]!.GetValue<bool>());
        Assert.Contains("paused since", (await RunAsync("queues", "list")).Output, StringComparison.Ordinal);
        Assert.Equal("queue encode: already paused", (await RunAsync("queues", "pause", "encode")).Output.Trim());

        Assert.Equal("queue encode: running", (await RunAsync("queues", "resume", "encode")).Output.Trim());
        Assert.False((await GetJsonAsync("/api/queues"))["queues"]!.AsArray().Single()!["paused"]!.GetValue<bool>());
        AssertOneLine(await RunAsync("queues", "pause", "not a type!"), ExitCodes.Failed, "400");
    }

    [Fact]
    public async Task Schedules_CreateListPauseTriggerDelete_RoundTrip()
    {
        var created = await RunAsync("schedules", "create", "--id", "nightly", "--cron", "0 2 * * *", "--time-zone", "Europe/Berlin",
            "--job-type", "report", "--payload", """{"scope":"all"}""", "--priority", "7", "--overlap", "skip", "--catch-up", "one", "-o", "json");
        Assert.True(created.ExitCode == ExitCodes.Ok, created.Error);
        Assert.Equal("Europe/Berlin", created.Json["time_zone"]!.GetValue<string>());
        Assert.Equal("skip", created.Json["overlap"]!.GetValue<string>());
        Assert.Equal("one", created.Json["catch_up"]!.GetValue<string>());
        Assert.Equal(7, created.Json["job"]!["priority"]!.GetValue<int>());
        Assert.NotNull(created.Json["next_run_at"]);
        AssertOneLine(await RunAsync("schedules", "create", "--id", "nightly", "--cron", "0 3 * * *", "--job-type", "report"), ExitCodes.Failed, "409");

        var listed = await RunAsync("schedules", "list", "-o", "json");
        Assert.Equal("nightly", listed.Json.AsArray().Single()!["id"]!.GetValue<string>());
        Assert.Contains("0 2 * * *", (await RunAsync("schedules", "list")).Output, StringComparison.Ordinal);

        Assert.True((await RunAsync("schedules", "pause", "nightly", "-o", "json")).Json["paused"]!.GetValue<bool>());
        Assert.True((await GetJsonAsync("/api/schedules/nightly"))["paused"]!.GetValue<bool>());

        var fired = await RunAsync("schedules", "trigger", "nightly", "-o", "json");
        Assert.True(fired.ExitCode == ExitCodes.Ok, fired.Error);
        var jobId = fired.Json["job"]!["id"]!.GetValue<string>();
        var jobs = (await GetJsonAsync("/api/jobs?job_type=report"))["jobs"]!.AsArray();
        var job = jobs.Single(j => j!["id"]!.GetValue<string>() == jobId)!;
        Assert.Equal("nightly", job["schedule_id"]!.GetValue<string>());
        Assert.Equal("all", job["payload"]!["scope"]!.GetValue<string>());

        Assert.False((await RunAsync("schedules", "resume", "nightly", "-o", "json")).Json["paused"]!.GetValue<bool>());
        Assert.Contains(jobId, (await RunAsync("schedules", "show", "nightly")).Output, StringComparison.Ordinal);
        Assert.Equal("deleted schedule nightly", (await RunAsync("schedules", "delete", "nightly")).Output.Trim());
        Assert.Empty((await GetJsonAsync("/api/schedules"))["schedules"]!.AsArray());
        AssertOneLine(await RunAsync("schedules", "show", "nightly"), ExitCodes.Failed, "404");
    }

    [Fact]
    public async Task Keys_CreateListRevoke_FromProtectedMode_AndARevokedKeyGets401()
    {
        // The first key ends protected mode: from then on even loopback needs a credential.
        var admin = await RunAsync("keys", "create", "--name", "root", "--role", "admin", "-o", "json");
        Assert.True(admin.ExitCode == ExitCodes.Ok, admin.Error);
        var adminSecret = admin.Json["secret"]!.GetValue<string>();
        Assert.StartsWith("mh_", adminSecret, StringComparison.Ordinal);
        AssertOneLine(await RunAsync("keys", "list"), ExitCodes.Failed, "401");

        var ops = await RunAsync("keys", "create", "--name", "ops", "--role", "operator", "--role", "viewer", "--api-key", adminSecret, "-o", "json");
        Assert.True(ops.ExitCode == ExitCodes.Ok, ops.Error);
        var opsId = ops.Json["id"]!.GetValue<string>();
        var opsSecret = ops.Json["secret"]!.GetValue<string>();
        Assert.Equal(["operator", "viewer"], ops.Json["roles"]!.AsArray().Select(r => r!.GetValue<string>()).Order());

        var listed = await RunAsync("keys", "list", "--api-key", adminSecret, "-o", "json");
        Assert.Equal(["ops", "root"], listed.Json.AsArray().Select(k => k!["name"]!.GetValue<string>()).Order());
        Assert.All(listed.Json.AsArray(), k => Assert.Equal("api", k!["source"]!.GetValue<string>()));
        AssertOneLine(await RunAsync("keys", "list", "--api-key", opsSecret), ExitCodes.Failed, "403");
        Assert.Equal(ExitCodes.Ok, (await RunAsync("missions", "list", "--api-key", opsSecret)).ExitCode);

        var revoked = await RunAsync("keys", "revoke", opsId, "--api-key", adminSecret);
        Assert.Equal($"revoked key {opsId}", revoked.Output.Trim());

        AssertOneLine(await RunAsync("missions", "list", "--api-key", opsSecret), ExitCodes.Failed, "401");
        using var http = Rest(opsSecret);
        using var refused = await http.GetAsync(new Uri("/api/missions", UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, refused.StatusCode);
        AssertOneLine(await RunAsync("keys", "revoke", opsId, "--api-key", adminSecret), ExitCodes.Failed, "404");
        var left = await RunAsync("keys", "list", "--api-key", adminSecret, "-o", "json");
        Assert.Equal("root", left.Json.AsArray().Single()!["name"]!.GetValue<string>());
    }
}
