using Microsoft.Playwright;

namespace MissionHub.Tests.Dashboard;

/// <summary>
/// Dashboard tests that open live pages on fresh SQLite servers: each server and browser context is disposed after the
/// test, newest first, and the page errors of every page opened are kept for the test to assert on.
/// </summary>
public abstract class LivePageTests(BrowserFixture browser) : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _disposables = [];

    protected TempFolder Folder { get; } = new();

    protected BrowserFixture Browser { get; } = browser;

    /// <summary>The errors each opened page reported (console errors, uncaught exceptions).</summary>
    protected List<List<string>> PageErrors { get; } = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        for (var i = _disposables.Count - 1; i >= 0; i--)
        {
            await _disposables[i].DisposeAsync();
        }
        Folder.Dispose();
    }

    protected MissionHubFactory Server()
    {
        var factory = MissionHubFactory.WithSqlite(Folder.File($"hub-{Guid.NewGuid():N}.db"));
        _disposables.Add(factory);
        return factory;
    }

    protected async Task<IPage> OpenAsync(MissionHubFactory factory, string hash, int width = 1280)
    {
        var (context, page, errors) = await Browser.OpenLiveAsync(factory.BaseAddress, hash, width);
        Keep(context, errors);
        return page;
    }

    /// <summary>A context the test opened itself: disposed with the rest, its errors kept.</summary>
    protected void Keep(IAsyncDisposable context, List<string> errors)
    {
        Track(context);
        PageErrors.Add(errors);
    }

    /// <summary>Disposed after the test, before what was tracked earlier.</summary>
    protected void Track(IAsyncDisposable disposable) => _disposables.Add(disposable);
}
