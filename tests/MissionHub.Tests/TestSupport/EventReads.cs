using System.Text.Json;

namespace MissionHub.Tests.TestSupport;

/// <summary>Reads events back through <c>GET /api/events</c>, as any client would.</summary>
public static class EventReads
{
    public static async Task<List<JsonElement>> ReadEventsAsync(this HttpClient client, string type = "*", long afterSeq = 0)
    {
        var events = new List<JsonElement>();
        var cursor = afterSeq;
        while (true)
        {
            var page = await client.GetJsonAsync($"/api/events?after_seq={cursor}&type={Uri.EscapeDataString(type)}&limit=1000");
            Assert.True(page.GetProperty("recovered").GetBoolean());
            events.AddRange(page.GetProperty("events").EnumerateArray());
            var next = page.GetProperty("next_after_seq").GetInt64();
            if (next >= page.GetProperty("last_seq").GetInt64())
            {
                return events;
            }
            cursor = next;
        }
    }

    /// <summary>Waits until events matching <paramref name="predicate"/> reach <paramref name="count"/>.</summary>
    public static async Task<List<JsonElement>> WaitForEventsAsync(this HttpClient client, string type, Func<JsonElement, bool> predicate, int count, TimeSpan? timeout = null)
    {
        List<JsonElement> matching = [];
        await Eventually.TrueAsync(async () =>
        {
            matching = (await client.ReadEventsAsync(type)).Where(predicate).ToList();
            return matching.Count >= count;
        }, timeout ?? TimeSpan.FromSeconds(10), $"{count} '{type}' events");
        return matching;
    }

    public static string? PayloadString(this JsonElement evt, string name) =>
        evt.GetProperty("payload").TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
