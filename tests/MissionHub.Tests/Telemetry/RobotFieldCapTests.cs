using System.Text.Json;
using Xunit.Abstractions;

namespace MissionHub.Tests.Telemetry;

/// <summary>
/// DESIGN §9 against a robot that sends new field names in every frame: past MaxFieldsPerRobot its frames are refused
/// whole with an <c>error</c> frame <c>too_many_robot_fields</c>, what the hub holds for it stops growing, it stays
/// connected and can go on sending the fields it has, and a robot beside it is not affected.
/// </summary>
[Collection(HeapBoundCollection.Name)]
public sealed class RobotFieldCapTests(ITestOutputHelper output) : IDisposable
{
    private const int Cap = 256;
    private const int FieldsPerFrame = 64;
    private const int Frames = 500;
    private const long HeapBoundMiB = 32;
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task RobotSendingNewFieldNamesEveryFrame_IsRefusedPastTheCap_WithBoundedMemory_AndAnotherRobotIsUnaffected()
    {
        await using var factory = MissionHubFactory.WithSqlite(_folder.File("fields.db"), new Dictionary<string, string?>
        {
            ["MissionHub:Telemetry:MaxFieldsPerRobot"] = Cap.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["MissionHub:Telemetry:MaxFieldsPerFrame"] = FieldsPerFrame.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        using var client = factory.CreateClient();
        await using var steady = await RawWorker.ConnectAsync(factory, "/api/telemetry/ws/steady");
        await using var greedy = await RawWorker.ConnectAsync(factory, "/api/telemetry/ws/greedy");
        await steady.SendAsync(new { cpu_usage = 1.0, battery_percentage = 90.0 });
        await WaitForAsync(client, "steady", r => r.GetProperty("metrics").GetProperty("cpu_usage").GetDouble() == 1.0);

        var heap = new ManagedHeap();
        var accepted = Cap / FieldsPerFrame;
        var refusals = 0;
        for (var frame = 0; frame < Frames; frame++)
        {
            // 64 names never sent before, each as long as a name may be.
            await greedy.SendTextAsync(NewFieldsFrame(frame));
            if (frame >= accepted)
            {
                var error = await greedy.ReceiveAsync();
                Assert.Equal("error", error.GetProperty("type").GetString());
                Assert.Equal("too_many_robot_fields", error.GetProperty("code").GetString());
                refusals++;
            }
            if (frame % 100 == 0)
            {
                await steady.SendAsync(new { cpu_usage = 2.0 + frame, battery_percentage = 90.0 });
            }
            if (frame % 250 == 249)
            {
                heap.Sample();
            }
        }
        heap.Sample();

        var held = await WaitForAsync(client, "greedy", _ => true);
        var fields = held.GetProperty("extra").EnumerateObject().Count();
        output.WriteLine($"{Frames} frames of {FieldsPerFrame} new fields: {refusals} refused, {fields} fields held, managed heap grew at most {heap.MaxGrowthMiB} MiB");
        Assert.Equal(Frames - accepted, refusals);
        Assert.Equal(Cap, fields);
        Assert.True(heap.MaxGrowthMiB < HeapBoundMiB, $"the managed heap grew {heap.MaxGrowthMiB} MiB (bound {HeapBoundMiB} MiB)");

        // Still connected: a frame of fields it already has is taken.
        var known = held.GetProperty("extra").EnumerateObject().First().Name;
        await greedy.SendTextAsync($$"""{"{{known}}": 42}""");
        await WaitForAsync(client, "greedy", r => r.GetProperty("extra").GetProperty(known).GetDouble() == 42);

        // The robot beside it: every frame taken, no error frame, still connected.
        var last = 2.0 + (Frames - 1) / 100 * 100;
        await WaitForAsync(client, "steady", r => r.GetProperty("metrics").GetProperty("cpu_usage").GetDouble() == last
            && r.GetProperty("connected").GetBoolean());
        await steady.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(200));
    }

    private static string NewFieldsFrame(int frame)
    {
        var fields = Enumerable.Range(0, FieldsPerFrame).Select(i => $"\"{$"f{frame:D6}_{i:D2}_".PadRight(64, 'x')}\":{i}");
        return "{" + string.Join(',', fields) + "}";
    }

    private static async Task<JsonElement> WaitForAsync(HttpClient client, string robotId, Func<JsonElement, bool> condition)
    {
        JsonElement found = default;
        await Eventually.TrueAsync(async () =>
        {
            foreach (var robot in (await client.GetJsonAsync("/api/telemetry/robots")).GetProperty("robots").EnumerateArray())
            {
                if (robot.GetProperty("robot_id").GetString() == robotId && condition(robot))
                {
                    found = robot;
                    return true;
                }
            }
            return false;
        }, TimeSpan.FromSeconds(10), $"robot {robotId}");
        return found;
    }
}
