using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace MissionHub.Tests.TestSupport;

/// <summary>
/// A fresh server per test whose clock is the test's (<see cref="FakeTimeProvider"/>, registered as the server's
/// <see cref="TimeProvider"/>): time moves only when the test advances it, so "at exactly this instant" can be asserted.
/// </summary>
public abstract class ClockedServerTests : IAsyncLifetime
{
    protected FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    protected TempFolder Folder { get; } = new();

    protected MissionHubFactory Factory { get; private set; } = null!;

    protected HttpClient Client { get; private set; } = null!;

    protected abstract MissionHubFactory CreateFactory(IDictionary<string, string?> settings);

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Starts the server with its clock at <paramref name="at"/>.</summary>
    protected void Start(DateTimeOffset at)
    {
        Clock.SetUtcNow(at);
        // The clock jumps minutes or hours at a time: no worker may count as silent meanwhile.
        Factory = CreateFactory(new Dictionary<string, string?> { ["MissionHub:Hub:WorkerHeartbeatTimeout"] = "12:00:00" });
        Factory.TestServices = services => services.AddSingleton<TimeProvider>(Clock);
        Client = Factory.CreateClient();
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        if (Factory is not null)
        {
            await Factory.DisposeAsync();
        }
        Folder.Dispose();
    }

    protected static DateTimeOffset Utc(string iso) => DateTimeOffset.Parse(iso, System.Globalization.CultureInfo.InvariantCulture);

    protected static double Unix(DateTimeOffset instant) => instant.ToUnixTimeMilliseconds() / 1000.0;
}
