using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MissionHub.Tests.Missions;

/// <summary>Small helpers for talking to the missions API and reading the event log back, as a client would.</summary>
internal static class MissionsHttp
{
    public static async Task<(HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response)> SendAsync(
        this HttpClient client, HttpMethod method, string path, string? json = null, string? correlationId = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        if (correlationId is not null)
        {
            request.Headers.Add("X-Correlation-ID", correlationId);
        }
        var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text), response);
    }

    public static Task<(HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response)> PostAsync(
        this HttpClient client, string path, string json, string? correlationId = null) =>
        client.SendAsync(HttpMethod.Post, path, json, correlationId);

    public static async Task<JsonNode> GetJsonAsync(this HttpClient client, string path)
    {
        var (status, body, _) = await client.SendAsync(HttpMethod.Get, path);
        Assert.True(status == HttpStatusCode.OK, $"GET {path} answered {(int)status}: {body?.ToJsonString()}");
        return body!;
    }

    public static async Task<JsonNode> CreateMissionAsync(
        this HttpClient client, string name, string? id = null, string? correlationId = null)
    {
        var request = new JsonObject { ["name"] = name, ["description"] = $"about {name}", ["data"] = new JsonObject { ["step"] = 1 } };
        if (id is not null)
        {
            request["id"] = id;
        }
        var (status, body, _) = await client.PostAsync("/api/missions", request.ToJsonString(), correlationId);
        Assert.True(status == HttpStatusCode.Created, $"create answered {(int)status}: {body?.ToJsonString()}");
        return body!;
    }

    public static Task<(HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response)> ChangeStatusAsync(
        this HttpClient client, string id, string status, string? correlationId = null) =>
        client.PostAsync($"/api/missions/{id}/status", new JsonObject { ["status"] = status }.ToJsonString(), correlationId);

    public static async Task<long> LastSeqAsync(this HttpClient client) =>
        (await client.GetJsonAsync("/api/health"))["last_seq"]!.GetValue<long>();

    /// <summary>Every event after <paramref name="afterSeq"/> whose type matches <paramref name="type"/>, read back from the log.</summary>
    public static async Task<List<JsonNode>> EventsAsync(this HttpClient client, long afterSeq, string type = "mission.*")
    {
        var events = new List<JsonNode>();
        var cursor = afterSeq;
        while (true)
        {
            var page = await client.GetJsonAsync($"/api/events?type={Uri.EscapeDataString(type)}&after_seq={cursor}&limit=1000");
            var batch = page["events"]!.AsArray();
            events.AddRange(batch.Select(e => e!));
            var next = page["next_after_seq"]!.GetValue<long>();
            if (batch.Count == 0 || next >= page["last_seq"]!.GetValue<long>())
            {
                return events;
            }
            cursor = next;
        }
    }

    public static async Task<JsonNode> StatsAsync(this HttpClient client) => await client.GetJsonAsync("/api/missions/stats");

    /// <summary>Every mission, walking the cursor.</summary>
    public static async Task<List<JsonNode>> AllMissionsAsync(this HttpClient client, string? status = null, int limit = 500)
    {
        var missions = new List<JsonNode>();
        string? cursor = null;
        do
        {
            var query = $"/api/missions?limit={limit}"
                + (status is null ? "" : $"&status={status}")
                + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}");
            var page = await client.GetJsonAsync(query);
            missions.AddRange(page["missions"]!.AsArray().Select(m => m!));
            cursor = page["next_cursor"]?.GetValue<string>();
        }
        while (cursor is not null);
        return missions;
    }

    public static async Task<List<JsonNode>> AllLogEntriesAsync(this HttpClient client, string id, int limit = 1000)
    {
        var entries = new List<JsonNode>();
        string? cursor = null;
        do
        {
            var page = await client.GetJsonAsync(
                $"/api/missions/{id}/log?limit={limit}" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}"));
            entries.AddRange(page["entries"]!.AsArray().Select(e => e!));
            cursor = page["next_cursor"]?.GetValue<string>();
        }
        while (cursor is not null);
        return entries;
    }

    public static string[] Keys(this JsonNode node) => node.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal).ToArray();

    public static string Str(this JsonNode node, string property) => node[property]!.GetValue<string>();

    public static bool IsFloatNumber(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.Number && value.TryGetValue<double>(out _);
}
