using System.Text.Json;
using System.Text.Json.Nodes;
using MissionHub.Client;
using MissionHub.Events;
using MissionHub.Monitor;

namespace MissionHub.Tests.Monitor;

/// <summary>
/// Every sequence of tests/fixtures/projection through the server's hub projection (what MonitorState and GET /api/state run)
/// and the .NET client's MonitorStateStore: both must leave exactly the expected jobs, workers and counts.
/// </summary>
public sealed class ProjectionFixtureTests
{
    public static TheoryData<string> Fixtures()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(FixtureFolder, "*.json").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }
        return data;
    }

    [Fact]
    public void Fixtures_CoverTheSequencesTheReadModelsMustAgreeOn() => Assert.True(Fixtures().Count >= 6, FixtureFolder);

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void ServerProjection_LeavesTheExpectedState(string fixture)
    {
        var (events, expected) = Load(fixture);
        var projection = new HubProjection(maxInlineResultBytes: 64 * 1024);
        foreach (var evt in events)
        {
            projection.Apply(JsonSerializer.Deserialize(evt.ToJsonString(), EventsJsonContext.Default.CharterEvent)!);
        }
        var counts = projection.Counts;
        AssertState(expected,
            projection.LiveJobs.ToDictionary(j => j.Id, j => (j.Status, j.WorkerId, j.Attempts, j.JobType, j.Priority)),
            projection.Workers.Values.ToDictionary(w => w.Id, w => (w.Status, (IReadOnlyList<string>)[.. w.CurrentJobs.Order(StringComparer.Ordinal)])),
            (counts.Pending, counts.Assigned, counts.Running, counts.Completed, counts.Failed, counts.Cancelled));
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void ClientStore_LeavesTheExpectedState(string fixture)
    {
        var (events, expected) = Load(fixture);
        var store = new MonitorStateStore(recentKept: 100);
        foreach (var evt in events)
        {
            // As /ws/monitor sends it: the payload's fields beside the type, timestamp in ms, and the seq.
            var flat = new JsonObject { ["type"] = evt["type"]!.GetValue<string>() };
            foreach (var (name, value) in evt["payload"]!.AsObject())
            {
                flat[name] = value?.DeepClone();
            }
            flat["timestamp"] = (long)(evt["timestamp"]!.GetValue<double>() * 1000);
            flat["seq"] = evt["seq"]!.GetValue<long>();
            store.Apply(flat["type"]!.GetValue<string>(), JsonDocument.Parse(flat.ToJsonString()).RootElement);
        }
        var state = store.Copy(null, events.Count);
        var counts = state.Counts;
        AssertState(expected,
            state.Jobs.Values.ToDictionary(j => j.Id, j => (j.Status, j.WorkerId, j.Attempts, j.JobType, j.Priority)),
            state.Workers.Values.ToDictionary(w => w.Id, w => (w.Status, (IReadOnlyList<string>)[.. w.CurrentJobs.Order(StringComparer.Ordinal)])),
            (counts.Pending, counts.Assigned, counts.Running, counts.Completed, counts.Failed, counts.Cancelled));
    }

    private static void AssertState(
        JsonNode expected,
        Dictionary<string, (string Status, string? WorkerId, int Attempts, string JobType, int Priority)> jobs,
        Dictionary<string, (string Status, IReadOnlyList<string> CurrentJobs)> workers,
        (long Pending, long Assigned, long Running, long Completed, long Failed, long Cancelled) counts)
    {
        var expectedJobs = expected["jobs"]!.AsObject().ToDictionary(j => j.Key, j => (
            j.Value!["status"]!.GetValue<string>(), j.Value["worker_id"]?.GetValue<string>(), j.Value["attempts"]!.GetValue<int>(),
            j.Value["job_type"]!.GetValue<string>(), j.Value["priority"]!.GetValue<int>()));
        Assert.Equal(expectedJobs.OrderBy(j => j.Key, StringComparer.Ordinal), jobs.OrderBy(j => j.Key, StringComparer.Ordinal));
        var expectedWorkers = expected["workers"]!.AsObject().ToDictionary(w => w.Key, w =>
            (w.Value!["status"]!.GetValue<string>(), string.Join(",", w.Value["current_jobs"]!.AsArray().Select(j => j!.GetValue<string>()))));
        Assert.Equal(expectedWorkers.OrderBy(w => w.Key, StringComparer.Ordinal),
            workers.Select(w => KeyValuePair.Create(w.Key, (w.Value.Status, string.Join(",", w.Value.CurrentJobs)))).OrderBy(w => w.Key, StringComparer.Ordinal));
        var c = expected["counts"]!;
        Assert.Equal((c["pending"]!.GetValue<long>(), c["assigned"]!.GetValue<long>(), c["running"]!.GetValue<long>(),
            c["completed"]!.GetValue<long>(), c["failed"]!.GetValue<long>(), c["cancelled"]!.GetValue<long>()), counts);
    }

    private static (List<JsonNode> Events, JsonNode Expected) Load(string fixture)
    {
        var root = JsonNode.Parse(File.ReadAllText(Path.Combine(FixtureFolder, fixture)))!;
        Assert.False(string.IsNullOrWhiteSpace(root["description"]?.GetValue<string>()), $"{fixture} has no description");
        return ([.. root["events"]!.AsArray().Select(e => e!)], root["expected"]!);
    }

    /// <summary>tests/fixtures/projection, found from the test binary's folder upwards.</summary>
    private static string FixtureFolder
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "tests", "fixtures", "projection");
                if (Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
            throw new DirectoryNotFoundException("tests/fixtures/projection not found above " + AppContext.BaseDirectory);
        }
    }
}
