using System.Net;
using System.Text.Json.Nodes;

namespace MissionHub.Tests.Missions;

/// <summary>
/// The missions contract (spec 002, DESIGN.md §3, issue 3) through the real HTTP API, asserted on the events
/// read back from <c>GET /api/events</c>. Run once per backend by the subclasses.
/// Each test gets its own store (a new SQLite file or a new Redis key prefix); <see cref="StartServer"/> opens
/// a server on it, and can be called again after disposing the first to restart on the same data.
/// </summary>
public abstract class MissionsApiTests : IDisposable
{
    private static readonly string[] CreatedPayloadKeys = ["created_at", "description", "mission_id", "name", "status"];
    private static readonly string[] StatusChangedPayloadKeys = ["changed_at", "mission_id", "new_status", "old_status"];
    private static readonly string[] LogAppendedPayloadKeys = ["appended_at", "log_level", "message", "mission_id"];
    private static readonly string[] Statuses = ["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"];

    private readonly List<MissionHubFactory> _factories = [];

    protected TempFolder Folder { get; } = new();

    /// <summary>A server on this test's store: the same store every time it is called within one test.</summary>
    protected abstract MissionHubFactory CreateFactory();

    protected MissionHubFactory StartServer()
    {
        var factory = CreateFactory();
        _factories.Add(factory);
        return factory;
    }

    public void Dispose()
    {
        foreach (var factory in _factories)
        {
            factory.Dispose();
        }
        Folder.Dispose();
        GC.SuppressFinalize(this);
    }

    // ---- spec 002 test scenarios ----

    [Fact]
    public async Task Create_Returns201WithLocation_AndPublishesMissionCreated()
    {
        using var client = StartServer().CreateClient();
        var before = await client.LastSeqAsync();

        var (status, body, response) = await client.PostAsync(
            "/api/missions", """{"name":"Deploy Application v2.0","description":"Deploy new version","data":{"env":"prod"}}""");

        Assert.Equal(HttpStatusCode.Created, status);
        var id = body!.Str("id");
        Assert.True(Guid.TryParse(id, out _), $"a generated id is a uuid, not '{id}'");
        Assert.Equal($"/api/missions/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal(["created_at", "data", "description", "id", "name", "status", "updated_at"], body!.Keys());
        Assert.Equal("PENDING", body!.Str("status"));
        Assert.Equal("prod", body!["data"]!["env"]!.GetValue<string>());
        Assert.True(MissionsHttp.IsFloatNumber(body!["created_at"]));
        Assert.Equal(body!["created_at"]!.GetValue<double>(), body!["updated_at"]!.GetValue<double>());
        var fetched = await client.GetJsonAsync($"/api/missions/{id}");
        Assert.True(JsonNode.DeepEquals(body, fetched));

        var created = Assert.Single(await client.EventsAsync(before));
        Assert.Equal("mission.created", created.Str("type"));
        Assert.Equal("missions_service", created.Str("source"));
        Assert.Null(created["target"]);
        var payload = created["payload"]!;
        Assert.Equal(CreatedPayloadKeys, payload.Keys());
        Assert.Equal(id, payload.Str("mission_id"));
        Assert.Equal("Deploy Application v2.0", payload.Str("name"));
        Assert.Equal("Deploy new version", payload.Str("description"));
        Assert.Equal("PENDING", payload.Str("status"));
        Assert.Equal(body!["created_at"]!.GetValue<double>(), payload["created_at"]!.GetValue<double>());
    }

    [Fact]
    public async Task Create_WritesTheInitialLogEntry_AndCountsTheMission()
    {
        using var client = StartServer().CreateClient();
        var (_, body, _) = await client.PostAsync("/api/missions", """{"id":"m-1","name":"Survey"}""");

        Assert.Equal("m-1", body!.Str("id"));
        Assert.Null(body!["description"]);
        Assert.Equal(new JsonObject(), body!["data"], JsonNode.DeepEquals);
        var entry = Assert.Single(await client.AllLogEntriesAsync("m-1"));
        Assert.Equal("info", entry.Str("level"));
        Assert.Equal("Mission created", entry.Str("message"));
        Assert.Equal("Survey", entry["data"]!.Str("name"));
        var stats = await client.StatsAsync();
        Assert.Equal(1, stats["total"]!.GetValue<long>());
        Assert.Equal(1, stats["by_status"]!["PENDING"]!.GetValue<long>());
        Assert.True(MissionsHttp.IsFloatNumber(stats["last_updated"]));
    }

    [Fact]
    public async Task StatusChange_PendingToRunning_PublishesStatusChangedTargetedAtTheMission()
    {
        using var client = StartServer().CreateClient();
        var id = (await client.CreateMissionAsync("Deploy")).Str("id");
        var before = await client.LastSeqAsync();

        var (status, body, _) = await client.ChangeStatusAsync(id, "RUNNING");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("RUNNING", body!.Str("status"));
        var changed = Assert.Single(await client.EventsAsync(before));
        Assert.Equal("mission.status_changed", changed.Str("type"));
        Assert.Equal("missions_service", changed.Str("source"));
        Assert.Equal($"mission_{id}", changed.Str("target"));
        var payload = changed["payload"]!;
        Assert.Equal(StatusChangedPayloadKeys, payload.Keys());
        Assert.Equal(id, payload.Str("mission_id"));
        Assert.Equal("PENDING", payload.Str("old_status"));
        Assert.Equal("RUNNING", payload.Str("new_status"));
        Assert.Equal(body!["updated_at"]!.GetValue<double>(), payload["changed_at"]!.GetValue<double>());
        var entries = await client.AllLogEntriesAsync(id);
        Assert.Equal(["Mission created", "Mission status changed"], entries.Select(e => e.Str("message")));
        Assert.Equal("PENDING", entries[1]["data"]!.Str("from"));
        Assert.Equal("RUNNING", entries[1]["data"]!.Str("to"));
    }

    [Fact]
    public async Task AppendLog_PublishesLogAppended_AndTheEntryIsReadBackInOrder()
    {
        using var client = StartServer().CreateClient();
        var id = (await client.CreateMissionAsync("Deploy")).Str("id");
        var before = await client.LastSeqAsync();

        var (status, body, _) = await client.PostAsync(
            $"/api/missions/{id}/log", """{"level":"info","message":"Deployment step 3/5 completed","data":{"step":3}}""");

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("info", body!.Str("level"));
        var appended = Assert.Single(await client.EventsAsync(before));
        Assert.Equal("mission.log_appended", appended.Str("type"));
        Assert.Equal("missions_service", appended.Str("source"));
        Assert.Equal($"mission_{id}", appended.Str("target"));
        var payload = appended["payload"]!;
        Assert.Equal(LogAppendedPayloadKeys, payload.Keys());
        Assert.Equal(id, payload.Str("mission_id"));
        Assert.Equal("info", payload.Str("log_level"));
        Assert.Equal("Deployment step 3/5 completed", payload.Str("message"));
        Assert.Equal(body!["timestamp"]!.GetValue<double>(), payload["appended_at"]!.GetValue<double>());
        var entries = await client.AllLogEntriesAsync(id);
        Assert.Equal(["Mission created", "Deployment step 3/5 completed"], entries.Select(e => e.Str("message")));
        Assert.Equal(3, entries[1]["data"]!["step"]!.GetValue<int>());
    }

    [Fact]
    public async Task StatusChange_PendingRunningCompleted_PublishesTwoEventsInOrder()
    {
        using var client = StartServer().CreateClient();
        var id = (await client.CreateMissionAsync("Deploy")).Str("id");
        var before = await client.LastSeqAsync();

        Assert.Equal(HttpStatusCode.OK, (await client.ChangeStatusAsync(id, "RUNNING")).Status);
        Assert.Equal(HttpStatusCode.OK, (await client.ChangeStatusAsync(id, "COMPLETED")).Status);

        var events = await client.EventsAsync(before, "mission.status_changed");
        Assert.Equal(2, events.Count);
        Assert.Equal(("PENDING", "RUNNING"), (events[0]["payload"]!.Str("old_status"), events[0]["payload"]!.Str("new_status")));
        Assert.Equal(("RUNNING", "COMPLETED"), (events[1]["payload"]!.Str("old_status"), events[1]["payload"]!.Str("new_status")));
        Assert.True(events[0]["seq"]!.GetValue<long>() < events[1]["seq"]!.GetValue<long>());
        Assert.Equal("COMPLETED", (await client.GetJsonAsync($"/api/missions/{id}")).Str("status"));
        var stats = await client.StatsAsync();
        Assert.Equal(1, stats["by_status"]!["COMPLETED"]!.GetValue<long>());
        Assert.Equal(0, stats["by_status"]!["PENDING"]!.GetValue<long>() + stats["by_status"]!["RUNNING"]!.GetValue<long>());
    }

    [Fact]
    public async Task Events_AreCharterCompliant_AndCarryTheRequestsCorrelationId()
    {
        using var client = StartServer().CreateClient();
        var before = await client.LastSeqAsync();

        var id = (await client.CreateMissionAsync("Deploy", correlationId: "corr-create")).Str("id");
        await client.ChangeStatusAsync(id, "RUNNING", correlationId: "corr-status");
        await client.PostAsync($"/api/missions/{id}/log", """{"level":"warning","message":"Test"}""", correlationId: "corr-log");

        var events = await client.EventsAsync(before);
        Assert.Equal(["mission.created", "mission.status_changed", "mission.log_appended"], events.Select(e => e.Str("type")));
        Assert.Equal(["corr-create", "corr-status", "corr-log"], events.Select(e => e["meta"]!.Str("correlation_id")));
        long lastSeq = before;
        foreach (var evt in events)
        {
            Assert.Equal(["id", "meta", "payload", "seq", "source", "target", "timestamp", "type"], evt.Keys());
            Assert.True(Guid.TryParse(evt.Str("id"), out _), "id is a uuid");
            Assert.StartsWith("mission.", evt.Str("type"), StringComparison.Ordinal);
            Assert.Equal("missions_service", evt.Str("source"));
            Assert.True(MissionsHttp.IsFloatNumber(evt["timestamp"]), "timestamp is a number of seconds");
            Assert.InRange(evt["timestamp"]!.GetValue<double>(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 60);
            Assert.IsType<JsonObject>(evt["payload"]);
            Assert.Equal(id, evt["payload"]!.Str("mission_id"));
            Assert.Equal("1.0", evt["meta"]!.Str("version"));
            var seq = evt["seq"]!.GetValue<long>();
            Assert.True(seq > lastSeq, "seq increases");
            lastSeq = seq;
        }
        Assert.Null(events[0]["target"]);
        Assert.All(events.Skip(1), e => Assert.Equal($"mission_{id}", e.Str("target")));
        Assert.Equal(CreatedPayloadKeys, events[0]["payload"]!.Keys());
        Assert.Equal(StatusChangedPayloadKeys, events[1]["payload"]!.Keys());
        Assert.Equal(LogAppendedPayloadKeys, events[2]["payload"]!.Keys());
    }

    // ---- the status machine ----

    [Fact]
    public async Task StatusChange_ToTheCurrentStatus_Is200WithNoChangeAndNoEvent()
    {
        using var client = StartServer().CreateClient();
        var id = (await client.CreateMissionAsync("Deploy")).Str("id");
        var (_, running, _) = await client.ChangeStatusAsync(id, "RUNNING");
        var before = await client.LastSeqAsync();
        var statsBefore = await client.StatsAsync();

        var (status, body, _) = await client.ChangeStatusAsync(id, "RUNNING");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(JsonNode.DeepEquals(running, body), "the mission is unchanged, updated_at included");
        Assert.Empty(await client.EventsAsync(before, "*"));
        Assert.Equal(2, (await client.AllLogEntriesAsync(id)).Count);
        AssertSameCounts(statsBefore, await client.StatsAsync());
    }

    [Fact]
    public async Task StatusChange_FromCompleted_IsRefusedWith409NamingBothStates()
    {
        using var client = StartServer().CreateClient();
        var id = (await client.CreateMissionAsync("Deploy")).Str("id");
        await client.ChangeStatusAsync(id, "RUNNING");
        await client.ChangeStatusAsync(id, "COMPLETED");
        var before = await client.LastSeqAsync();
        var statsBefore = await client.StatsAsync();

        foreach (var target in new[] { "RUNNING", "PENDING", "FAILED", "CANCELLED" })
        {
            var (status, problem, response) = await client.ChangeStatusAsync(id, target);

            Assert.Equal(HttpStatusCode.Conflict, status);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal($"cannot change status from COMPLETED to {target}", problem!.Str("detail"));
            Assert.Equal("COMPLETED", problem!.Str("current_status"));
            Assert.Equal(target, problem!.Str("requested_status"));
        }
        Assert.Empty(await client.EventsAsync(before, "*"));
        AssertSameCounts(statsBefore, await client.StatsAsync());
        Assert.Equal("COMPLETED", (await client.GetJsonAsync($"/api/missions/{id}")).Str("status"));
    }

    [Fact]
    public async Task StatusChange_PendingToCompleted_IsRefusedWith409()
    {
        using var client = StartServer().CreateClient();
        var id = (await client.CreateMissionAsync("Deploy")).Str("id");

        var (status, problem, _) = await client.ChangeStatusAsync(id, "COMPLETED");

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("cannot change status from PENDING to COMPLETED", problem!.Str("detail"));
        Assert.Equal(HttpStatusCode.OK, (await client.ChangeStatusAsync(id, "CANCELLED")).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await client.ChangeStatusAsync(id, "RUNNING")).Status);
    }

    [Fact]
    public async Task ConcurrentStatusChanges_HaveOneWinnerPerTransition_OneEventPerChange_AndExactStats()
    {
        const int missionCount = 20;
        const int racersPerMission = 10;
        using var client = StartServer().CreateClient();
        var ids = new List<string>();
        for (var i = 0; i < missionCount; i++)
        {
            ids.Add((await client.CreateMissionAsync($"race {i}", id: $"race-{i}")).Str("id"));
        }
        var start = await client.LastSeqAsync();

        // Round 1: 200 racing PENDING→RUNNING requests, with 20 creations racing alongside them.
        var round1 = ids.SelectMany(id => Enumerable.Range(0, racersPerMission).Select(_ => client.ChangeStatusAsync(id, "RUNNING")))
            .ToList();
        var creations = Enumerable.Range(0, missionCount)
            .Select(i => client.PostAsync("/api/missions", $$"""{"id":"late-{{i}}","name":"late {{i}}"}""")).ToList();
        var round1Results = await Task.WhenAll(round1);
        Assert.All(await Task.WhenAll(creations), r => Assert.Equal(HttpStatusCode.Created, r.Status));
        Assert.All(round1Results, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        var afterRound1 = await client.LastSeqAsync();
        var round1Changes = await client.EventsAsync(start, "mission.status_changed");
        Assert.Equal(ids.Order(StringComparer.Ordinal), round1Changes.Select(e => e["payload"]!.Str("mission_id")).Order(StringComparer.Ordinal));
        Assert.All(round1Changes, e => Assert.Equal("PENDING", e["payload"]!.Str("old_status")));

        // Round 2: per mission, 5 COMPLETED racing 5 FAILED: one wins, its twins are no-ops, the others are refused.
        var round2 = ids.SelectMany(id => Enumerable.Range(0, racersPerMission)
                .Select(r => (Id: id, Target: r % 2 == 0 ? "COMPLETED" : "FAILED", Call: client.ChangeStatusAsync(id, r % 2 == 0 ? "COMPLETED" : "FAILED"))))
            .ToList();
        await Task.WhenAll(round2.Select(r => r.Call));
        var round2Changes = await client.EventsAsync(afterRound1, "mission.status_changed");
        Assert.Equal(missionCount, round2Changes.Count);
        foreach (var id in ids)
        {
            var change = Assert.Single(round2Changes, e => e["payload"]!.Str("mission_id") == id);
            Assert.Equal("RUNNING", change["payload"]!.Str("old_status"));
            var winner = change["payload"]!.Str("new_status");
            var mine = round2.Where(r => r.Id == id).Select(r => (r.Target, Result: r.Call.Result)).ToList();
            Assert.All(mine.Where(r => r.Target == winner), r => Assert.Equal(HttpStatusCode.OK, r.Result.Status));
            Assert.All(mine.Where(r => r.Target != winner), r =>
            {
                Assert.Equal(HttpStatusCode.Conflict, r.Result.Status);
                Assert.Equal(winner, r.Result.Body!.Str("current_status"));
                Assert.Equal(r.Target, r.Result.Body!.Str("requested_status"));
            });
            Assert.Equal(winner, (await client.GetJsonAsync($"/api/missions/{id}")).Str("status"));
        }

        // Round 3: 200 racing CANCELLED on finished missions plus RUNNING on the late ones: only the late ones move.
        var afterRound2 = await client.LastSeqAsync();
        var round3 = ids.SelectMany(id => Enumerable.Range(0, racersPerMission / 2).Select(_ => client.ChangeStatusAsync(id, "CANCELLED")))
            .Concat(Enumerable.Range(0, missionCount).SelectMany(i =>
                Enumerable.Range(0, racersPerMission / 2).Select(_ => client.ChangeStatusAsync($"late-{i}", "RUNNING"))))
            .ToList();
        var round3Results = await Task.WhenAll(round3);
        Assert.Equal(missionCount * racersPerMission / 2, round3Results.Count(r => r.Status == HttpStatusCode.Conflict));
        Assert.Equal(missionCount, (await client.EventsAsync(afterRound2, "mission.status_changed")).Count);

        // The counters equal a recount of what is stored, and sum to the total.
        var stats = await client.StatsAsync();
        var all = await client.AllMissionsAsync();
        Assert.Equal(2 * missionCount, all.Count);
        Assert.Equal(all.Count, stats["total"]!.GetValue<long>());
        Assert.Equal(all.Count, Statuses.Sum(s => stats["by_status"]![s]!.GetValue<long>()));
        foreach (var status in Statuses)
        {
            var recount = all.Count(m => m.Str("status") == status);
            Assert.Equal(recount, stats["by_status"]![status]!.GetValue<long>());
            Assert.Equal(recount, (await client.AllMissionsAsync(status)).Count);
        }
        Assert.Equal(missionCount, stats["by_status"]!["RUNNING"]!.GetValue<long>());
        // Every real change left exactly one log entry.
        foreach (var id in ids)
        {
            Assert.Equal(3, (await client.AllLogEntriesAsync(id)).Count);
        }
    }

    // ---- bad input ----

    public static TheoryData<string, string> BadCreateBodies => new()
    {
        { "{}", "name" },
        { """{"name":"   "}""", "name" },
        { """{"name":null}""", "name" },
        { """{"name":42}""", "name" },
        { $$"""{"name":"{{new string('n', 201)}}"}""", "name" },
        { $$"""{"name":"ok","description":"{{new string('d', 2001)}}"}""", "description" },
        { """{"name":"ok","description":7}""", "description" },
        { """{"name":"ok","data":[1,2]}""", "data" },
        { """{"name":"ok","data":"text"}""", "data" },
        { $$$"""{"name":"ok","data":{"blob":"{{{new string('x', 64 * 1024)}}}"}}""", "data" },
        { """{"name":"ok","id":"has space"}""", "id" },
        { """{"name":"ok","id":""}""", "id" },
        { """{"name":"ok","id":"a/b"}""", "id" },
        { """{"name":"ok","id":"stats"}""", "id" },
        { $$"""{"name":"ok","id":"{{new string('i', 129)}}"}""", "id" },
        { """{"name":"ok","id":5}""", "id" },
        { """{"name":"ok",""", "body" },
        { "not json", "body" },
        { "[1,2]", "body" },
        { "", "body" },
    };

    [Fact]
    public async Task Create_WithBadInput_IsRefusedWith400NamingTheField_AndChangesNothing()
    {
        using var client = StartServer().CreateClient();
        await client.CreateMissionAsync("existing", id: "existing");
        var snapshot = await SnapshotAsync(client, "existing");

        foreach (var (body, field) in BadCreateBodies.Select(row => ((string)row[0], (string)row[1])))
        {
            var (status, problem, response) = await client.PostAsync("/api/missions", body);

            var what = $"POST /api/missions {Shorten(body)}";
            Assert.True(status == HttpStatusCode.BadRequest, $"{what} answered {(int)status}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.True(field == problem!.Str("field"), $"{what} named '{problem!["field"]}', not '{field}'");
            Assert.False(string.IsNullOrWhiteSpace(problem!.Str("detail")));
        }
        await AssertUnchangedAsync(client, "existing", snapshot);
    }

    [Theory]
    [InlineData("""{"name":"\ud800"}""", "name")]
    [InlineData("""{"name":"ok","description":"a\udfffb"}""", "description")]
    [InlineData("""{"name":"ok","data":{"tags":["x","\uDBFF"]}}""", "data.tags[1]")]
    [InlineData("""{"name":"ok","data":{"\ud800":1}}""", "data")]
    public async Task Mission_name_with_lone_surrogate_escape_is_400_not_500(string body, string field)
    {
        using var client = StartServer().CreateClient();

        var (status, problem, response) = await client.PostAsync("/api/missions", body);

        Assert.True(status == HttpStatusCode.BadRequest, $"{body} answered {(int)status}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(field, problem!.Str("field"));
        // A surrogate pair is text: the same escapes as a pair are accepted.
        var (pairStatus, created, _) = await client.PostAsync("/api/missions", """{"name":"\ud83d\ude80"}""");
        Assert.Equal(HttpStatusCode.Created, pairStatus);
        Assert.Equal("\U0001F680", created!.Str("name"));
    }

    [Fact]
    public async Task Status_and_log_with_lone_surrogate_escape_are_400_not_500()
    {
        using var client = StartServer().CreateClient();
        await client.CreateMissionAsync("m", id: "m1");

        var (statusAnswer, statusProblem, _) = await client.PostAsync("/api/missions/m1/status", """{"status":"\ud800"}""");
        var (logAnswer, logProblem, _) = await client.PostAsync("/api/missions/m1/log", """{"level":"info","message":"\udc00"}""");

        Assert.Equal(HttpStatusCode.BadRequest, statusAnswer);
        Assert.Equal("status", statusProblem!.Str("field"));
        Assert.Equal(HttpStatusCode.BadRequest, logAnswer);
        Assert.Equal("message", logProblem!.Str("field"));
    }

    [Fact]
    public async Task Create_WithDuplicateId_IsRefusedWith409_AndChangesNothing()
    {
        using var client = StartServer().CreateClient();
        var original = await client.CreateMissionAsync("first", id: "dup");
        var snapshot = await SnapshotAsync(client, "dup");

        var (status, problem, _) = await client.PostAsync("/api/missions", """{"id":"dup","name":"second"}""");

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("dup", problem!.Str("detail"), StringComparison.Ordinal);
        Assert.True(JsonNode.DeepEquals(original, await client.GetJsonAsync("/api/missions/dup")));
        await AssertUnchangedAsync(client, "dup", snapshot);
    }

    [Fact]
    public async Task StatusChange_WithBadInput_IsRefusedWith400NamingTheField_AndChangesNothing()
    {
        using var client = StartServer().CreateClient();
        await client.CreateMissionAsync("m", id: "m");
        var snapshot = await SnapshotAsync(client, "m");

        foreach (var body in new[] { """{"status":"DONE"}""", """{"status":"running"}""", "{}", """{"status":1}""", """{"status":""" })
        {
            var (status, problem, _) = await client.PostAsync("/api/missions/m/status", body);

            Assert.True(status == HttpStatusCode.BadRequest, $"{body} answered {(int)status}");
            var expectedField = body == """{"status":""" ? "body" : "status";
            Assert.Equal(expectedField, problem!.Str("field"));
            if (body == """{"status":"DONE"}""")
            {
                Assert.Contains("PENDING, RUNNING, COMPLETED, FAILED, CANCELLED", problem!.Str("detail"), StringComparison.Ordinal);
            }
        }
        await AssertUnchangedAsync(client, "m", snapshot);
    }

    [Fact]
    public async Task AppendLog_WithBadInput_IsRefusedWith400NamingTheField_AndChangesNothing()
    {
        using var client = StartServer().CreateClient();
        await client.CreateMissionAsync("m", id: "m");
        var snapshot = await SnapshotAsync(client, "m");
        var cases = new (string Body, string Field)[]
        {
            ("""{"level":"fatal","message":"x"}""", "level"),
            ("""{"message":"x"}""", "level"),
            ("""{"level":"INFO","message":"x"}""", "level"),
            ("""{"level":"info"}""", "message"),
            ("""{"level":"info","message":"  "}""", "message"),
            ("""{"level":"info","message":3}""", "message"),
            ($$"""{"level":"info","message":"{{new string('m', 10_001)}}"}""", "message"),
            ("""{"level":"info","message":"x","data":[1]}""", "data"),
            ($$$"""{"level":"info","message":"x","data":{"blob":"{{{new string('x', 64 * 1024)}}}"}}""", "data"),
            ("""{"level":"info",""", "body"),
        };

        foreach (var (body, field) in cases)
        {
            var (status, problem, _) = await client.PostAsync("/api/missions/m/log", body);

            Assert.True(status == HttpStatusCode.BadRequest, $"{Shorten(body)} answered {(int)status}");
            Assert.True(field == problem!.Str("field"), $"{Shorten(body)} named '{problem!["field"]}', not '{field}'");
            if (field == "level")
            {
                Assert.Contains("debug, info, warning, error", problem!.Str("detail"), StringComparison.Ordinal);
            }
        }
        await AssertUnchangedAsync(client, "m", snapshot);
    }

    [Fact]
    public async Task ListAndLog_WithBadQuery_AreRefusedWith400NamingTheParameter()
    {
        using var client = StartServer().CreateClient();
        await client.CreateMissionAsync("m", id: "m");
        var cases = new (string Path, string Field)[]
        {
            ("/api/missions?limit=0", "limit"),
            ("/api/missions?limit=501", "limit"),
            ("/api/missions?limit=ten", "limit"),
            ("/api/missions?cursor=garbage!", "cursor"),
            ("/api/missions?cursor=bDox", "cursor"), // a log cursor is not a missions cursor
            ("/api/missions?status=DONE", "status"),
            ("/api/missions/m/log?limit=-1", "limit"),
            ("/api/missions/m/log?cursor=zzz", "cursor"),
        };

        foreach (var (path, field) in cases)
        {
            var (status, problem, _) = await client.SendAsync(HttpMethod.Get, path);

            Assert.True(status == HttpStatusCode.BadRequest, $"{path} answered {(int)status}");
            Assert.Equal(field, problem!.Str("field"));
        }
    }

    [Fact]
    public async Task UnknownMission_Is404_AndNothingIsWritten()
    {
        using var client = StartServer().CreateClient();
        var before = await client.LastSeqAsync();

        Assert.Equal(HttpStatusCode.NotFound, (await client.SendAsync(HttpMethod.Get, "/api/missions/nope")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await client.ChangeStatusAsync("nope", "RUNNING")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync("/api/missions/nope/log", """{"level":"info","message":"x"}""")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await client.SendAsync(HttpMethod.Get, "/api/missions/nope/log")).Status);
        var (_, problem, response) = await client.SendAsync(HttpMethod.Get, "/api/missions/nope");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("nope", problem!.Str("detail"), StringComparison.Ordinal);

        Assert.Equal(before, await client.LastSeqAsync());
        Assert.Equal(0, (await client.StatsAsync())["total"]!.GetValue<long>());
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/api/missions", """{"id":"nope","name":"now it exists"}""")).Status);
        Assert.Single(await client.AllLogEntriesAsync("nope"));
    }

    // ---- listing, paging, stats ----

    [Fact]
    public async Task List_CursorWalk_ReturnsEveryMissionExactlyOnce_NewestFirst()
    {
        using var client = StartServer().CreateClient();
        var created = new List<string>();
        for (var i = 0; i < 23; i++)
        {
            created.Add((await client.CreateMissionAsync($"mission {i}", id: $"m{i:00}")).Str("id"));
        }
        foreach (var id in created.Where((_, i) => i % 3 == 0))
        {
            await client.ChangeStatusAsync(id, "RUNNING");
        }

        var walked = await client.AllMissionsAsync(limit: 5);
        Assert.Equal(Enumerable.Reverse(created), walked.Select(m => m.Str("id")));
        var firstPage = await client.GetJsonAsync("/api/missions");
        Assert.Equal(23, firstPage["missions"]!.AsArray().Count);
        Assert.Null(firstPage["next_cursor"]);

        var running = await client.AllMissionsAsync("RUNNING", limit: 2);
        Assert.Equal(Enumerable.Reverse(created.Where((_, i) => i % 3 == 0)), running.Select(m => m.Str("id")));
        Assert.All(running, m => Assert.Equal("RUNNING", m.Str("status")));
        Assert.Equal(23 - running.Count, (await client.AllMissionsAsync("PENDING", limit: 4)).Count);
        Assert.Empty(await client.AllMissionsAsync("FAILED"));
    }

    [Fact]
    public async Task Log_CursorWalk_ReturnsEveryEntryInOrder()
    {
        using var client = StartServer().CreateClient();
        await client.CreateMissionAsync("m", id: "m");
        var levels = new[] { "debug", "info", "warning", "error" };
        for (var i = 0; i < 10; i++)
        {
            var (status, _, _) = await client.PostAsync("/api/missions/m/log", $$"""{"level":"{{levels[i % 4]}}","message":"step {{i}}"}""");
            Assert.Equal(HttpStatusCode.Created, status);
        }

        var entries = await client.AllLogEntriesAsync("m", limit: 3);

        Assert.Equal(["Mission created", .. Enumerable.Range(0, 10).Select(i => $"step {i}")], entries.Select(e => e.Str("message")));
        Assert.Equal(levels[1], entries[2].Str("level"));
        var timestamps = entries.Select(e => e["timestamp"]!.GetValue<double>()).ToList();
        Assert.Equal(timestamps.Order(), timestamps);
    }

    [Fact]
    public async Task Stats_IsItsOwnRoute_AndListsAllFiveStatusesFromZero()
    {
        using var client = StartServer().CreateClient();

        var stats = await client.StatsAsync();

        Assert.Equal(["by_status", "last_updated", "total"], stats.Keys());
        Assert.Equal(0, stats["total"]!.GetValue<long>());
        Assert.Equal(Statuses.Order(StringComparer.Ordinal), stats["by_status"]!.Keys());
        Assert.All(Statuses, s => Assert.Equal(0, stats["by_status"]![s]!.GetValue<long>()));
    }

    // ---- restart ----

    [Fact]
    public async Task Restart_KeepsMissionsLogsAndStats()
    {
        JsonNode missionsBefore, statsBefore;
        var logsBefore = new Dictionary<string, List<JsonNode>>();
        var server = StartServer();
        using (var client = server.CreateClient())
        {
            foreach (var id in new[] { "a", "b", "c" })
            {
                await client.CreateMissionAsync($"mission {id}", id: id);
            }
            await client.ChangeStatusAsync("a", "RUNNING");
            await client.ChangeStatusAsync("a", "COMPLETED");
            await client.ChangeStatusAsync("b", "CANCELLED");
            await client.PostAsync("/api/missions/c/log", """{"level":"error","message":"disk full","data":{"free":0}}""");
            missionsBefore = await client.GetJsonAsync("/api/missions");
            statsBefore = await client.StatsAsync();
            foreach (var id in new[] { "a", "b", "c" })
            {
                logsBefore[id] = await client.AllLogEntriesAsync(id);
            }
        }
        await server.DisposeAsync();

        using var restarted = StartServer().CreateClient();
        Assert.True(JsonNode.DeepEquals(missionsBefore, await restarted.GetJsonAsync("/api/missions")), "missions survive");
        Assert.True(JsonNode.DeepEquals(statsBefore, await restarted.StatsAsync()), "stats survive");
        foreach (var (id, entries) in logsBefore)
        {
            Assert.True(JsonNode.DeepEquals(new JsonArray([.. entries.Select(e => e.DeepClone())]),
                new JsonArray([.. (await restarted.AllLogEntriesAsync(id)).Select(e => e.DeepClone())])), $"log of {id} survives");
        }
        // ...and they go on from where they were.
        Assert.Equal(HttpStatusCode.Conflict, (await restarted.PostAsync("/api/missions", """{"id":"a","name":"again"}""")).Status);
        Assert.Equal(HttpStatusCode.OK, (await restarted.ChangeStatusAsync("c", "RUNNING")).Status);
        var stats = await restarted.StatsAsync();
        Assert.Equal(3, stats["total"]!.GetValue<long>());
        Assert.Equal(1, stats["by_status"]!["RUNNING"]!.GetValue<long>());
    }

    // ---- helpers ----

    private static async Task<(long LastSeq, JsonNode Stats, int Missions, int LogEntries)> SnapshotAsync(HttpClient client, string id) =>
        (await client.LastSeqAsync(), await client.StatsAsync(), (await client.AllMissionsAsync()).Count, (await client.AllLogEntriesAsync(id)).Count);

    private static async Task AssertUnchangedAsync(HttpClient client, string id, (long LastSeq, JsonNode Stats, int Missions, int LogEntries) before)
    {
        Assert.Equal(before.LastSeq, await client.LastSeqAsync());
        Assert.True(JsonNode.DeepEquals(before.Stats, await client.StatsAsync()), "stats unchanged");
        Assert.Equal(before.Missions, (await client.AllMissionsAsync()).Count);
        Assert.Equal(before.LogEntries, (await client.AllLogEntriesAsync(id)).Count);
    }

    private static void AssertSameCounts(JsonNode expected, JsonNode actual)
    {
        Assert.Equal(expected["total"]!.GetValue<long>(), actual["total"]!.GetValue<long>());
        Assert.True(JsonNode.DeepEquals(expected["by_status"], actual["by_status"]));
    }

    private static string Shorten(string body) => body.Length <= 80 ? body : body![..80] + "…";
}
