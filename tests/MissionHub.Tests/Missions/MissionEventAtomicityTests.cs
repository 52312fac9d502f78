using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;

namespace MissionHub.Tests.Missions;

/// <summary>
/// A mission's change and its event are one write: when the event cannot be written (a trigger on the real file's
/// events table refuses it), the change is not there either — no row, no counter, no log entry — and other missions'
/// writes around it still land.
/// </summary>
public sealed class MissionEventAtomicityTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_mission_whose_event_cannot_be_written_is_not_written_at_all()
    {
        var path = _folder.File("atomic.db");
        await using var factory = MissionHubFactory.WithSqlite(path);
        using var client = factory.CreateClient();
        await client.CreateMissionAsync("victim", id: "victim");
        var statsBefore = await client.GetJsonAsync("/api/missions/stats");
        var seqBefore = await client.LastSeqAsync();

        RefuseEventsOf(path, "victim", "poison");

        var (created, _, _) = await client.PostAsync("/api/missions", new JsonObject { ["id"] = "poison", ["name"] = "poison" }.ToJsonString());
        Assert.False(created.IsSuccess(), $"create answered {(int)created} although its event was refused");
        var (changed, _, _) = await client.ChangeStatusAsync("victim", "RUNNING");
        Assert.False(changed.IsSuccess(), $"status change answered {(int)changed} although its event was refused");
        var (logged, _, _) = await client.PostAsync("/api/missions/victim/log", """{"level":"info","message":"lost?"}""");
        Assert.False(logged.IsSuccess(), $"log append answered {(int)logged} although its event was refused");
        // A write the writer may group with the refused ones still lands, with its event.
        await client.CreateMissionAsync("bystander", id: "bystander");

        var (poison, _, _) = await client.SendAsync(HttpMethod.Get, "/api/missions/poison");
        Assert.Equal(HttpStatusCode.NotFound, poison);
        var victim = await client.GetJsonAsync("/api/missions/victim");
        Assert.Equal("PENDING", victim["status"]!.GetValue<string>());
        var log = await client.GetJsonAsync("/api/missions/victim/log");
        Assert.Single(log["entries"]!.AsArray());
        var statsAfter = await client.GetJsonAsync("/api/missions/stats");
        Assert.Equal(statsBefore["total"]!.GetValue<long>() + 1, statsAfter["total"]!.GetValue<long>());
        Assert.Equal(statsBefore["by_status"]!["PENDING"]!.GetValue<long>() + 1, statsAfter["by_status"]!["PENDING"]!.GetValue<long>());
        var events = await client.EventsAsync(seqBefore);
        var only = Assert.Single(events);
        Assert.Equal("mission.created", only["type"]!.GetValue<string>());
        Assert.Equal("bystander", only["payload"]!["mission_id"]!.GetValue<string>());
        AssertGapFree(await client.EventsAsync(seqBefore, "*"), seqBefore); // the refused writes' seqs were handed out again

        AllowEvents(path);
        var (retried, _, _) = await client.ChangeStatusAsync("victim", "RUNNING");
        Assert.Equal(HttpStatusCode.OK, retried);
        var change = Assert.Single(await client.EventsAsync(only["seq"]!.GetValue<long>()));
        Assert.Equal("mission.status_changed", change["type"]!.GetValue<string>());
        AssertGapFree(await client.EventsAsync(seqBefore, "*"), seqBefore);
    }

    private static void AssertGapFree(List<JsonNode> events, long afterSeq) =>
        Assert.Equal(
            Enumerable.Range(0, events.Count).Select(i => afterSeq + 1 + i),
            events.Select(e => e["seq"]!.GetValue<long>()));

    private static void RefuseEventsOf(string path, params string[] missionIds)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=false");
        connection.Open();
        using var command = connection.CreateCommand();
        var ids = string.Join(", ", missionIds.Select(id => $"'{id}'"));
        command.CommandText = $"""
            CREATE TRIGGER refuse_events BEFORE INSERT ON events
            WHEN json_extract(NEW.payload, '$.mission_id') IN ({ids})
            BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;
            """;
        command.ExecuteNonQuery();
    }

    private static void AllowEvents(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=false");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "DROP TRIGGER refuse_events";
        command.ExecuteNonQuery();
    }
}

internal static class HttpStatusCodeExtensions
{
    public static bool IsSuccess(this HttpStatusCode status) => (int)status is >= 200 and < 300;
}
