using System.Net;
using System.Net.Sockets;
using Microsoft.Playwright;

namespace MissionHub.Tests.Dashboard;

/// <summary>
/// One headless Debian Chromium (<c>/usr/bin/chromium</c>, installed by <c>scripts/test</c>) shared by the
/// dashboard tests; Playwright never downloads a browser here.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Where screenshots go: beside the test assembly, under <c>dashboard-screenshots/</c>.</summary>
    public string ScreenshotFolder { get; } = Path.Combine(AppContext.BaseDirectory, "dashboard-screenshots");

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing: install Debian's chromium (scripts/test does it with apt-get)");
        }
        Directory.CreateDirectory(ScreenshotFolder);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
            ],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }
        _playwright?.Dispose();
    }

    /// <summary>A new page at 1280×800 (or the given width) that fails the test on any script error.</summary>
    public async Task<(IBrowserContext Context, IPage Page, List<string> Errors)> NewPageAsync(int width = 1280, int height = 800)
    {
        var context = await Browser.NewContextAsync(new() { ViewportSize = new() { Width = width, Height = height } });
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, error) => errors.Add(error);
        page.Console += (_, message) =>
        {
            ConsoleLog.Add($"{message.Type}: {message.Text}");
            // A 404 from a feature this server lacks, or a refused reconnect, is expected and shown in the page.
            if (message.Type == "error" && !message.Text.StartsWith("Failed to load resource", StringComparison.Ordinal)
                && !message.Text.StartsWith("WebSocket connection to", StringComparison.Ordinal))
            {
                errors.Add(message.Text);
            }
        };
        return (context, page, errors);
    }

    /// <summary>Every console message of every page, for diagnosing a failure.</summary>
    public System.Collections.Concurrent.ConcurrentBag<string> ConsoleLog { get; } = [];

    /// <summary>A new page on the dashboard at <paramref name="baseAddress"/> and <paramref name="hash"/>, once it says it is live.</summary>
    public async Task<(IBrowserContext Context, IPage Page, List<string> Errors)> OpenLiveAsync(Uri baseAddress, string hash, int width = 1280)
    {
        var (context, page, errors) = await NewPageAsync(width);
        await page.GotoAsync(new Uri(baseAddress, "/" + hash).ToString());
        try
        {
            await Assertions.Expect(page.Locator("#conn")).ToHaveAttributeAsync("data-state", "live");
        }
        catch (PlaywrightException ex)
        {
            await context.DisposeAsync();
            throw new InvalidOperationException($"the page did not go live; console: {string.Join(" | ", ConsoleLog)}", ex);
        }
        return (context, page, errors);
    }

    public async Task ScreenshotAsync(IPage page, string name) =>
        await page.ScreenshotAsync(new() { Path = Path.Combine(ScreenshotFolder, name + ".png"), FullPage = true });

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
