using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Playwright;
using MissionHub.Tests.Dashboard;
using static Microsoft.Playwright.Assertions;

namespace MissionHub.Tests.Auth;

/// <summary>The dashboard's sign-in in a real headless Chromium: viewer sees live data and no controls, operator submits, sign-out.</summary>
public sealed class AuthDashboardTests(BrowserFixture browser) : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    private readonly AuthTestSupport _auth = new();
    private readonly List<IAsyncDisposable> _disposables = [];
    private MissionHubFactory _server = null!;

    public Task InitializeAsync()
    {
        _server = MissionHubFactory.WithSqlite(_auth.Folder.File("dashboard.db"), _auth.Settings(jwt: false));
        _disposables.Add(_server);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        for (var i = _disposables.Count - 1; i >= 0; i--)
        {
            await _disposables[i].DisposeAsync();
        }
        _auth.Dispose();
    }

    private async Task<(IBrowserContext Context, IPage Page, List<string> Errors)> SignInAsync(string role)
    {
        var (context, page, errors) = await browser.NewPageAsync();
        _disposables.Add(context);
        await page.GotoAsync(new Uri(_server.BaseAddress, "/#/jobs").ToString());
        await Expect(page.Locator("#signin-form")).ToBeVisibleAsync();
        await Expect(page.Locator("#job-submit")).ToBeHiddenAsync();
        await page.FillAsync("#signin-form input[name=key]", AuthTestSupport.RoleKeys[role]);
        await page.ClickAsync("#signin-form button[type=submit]");
        await Expect(page.Locator("#conn")).ToHaveAttributeAsync("data-state", "live");
        await Expect(page.Locator("#who-name")).ToContainTextAsync($"{role}-key");
        return (context, page, errors);
    }

    [Fact]
    public async Task Viewer_SeesLiveUpdates_ButNoSubmitOrCancelControls_AndSignsOutToTheSignInPage()
    {
        var (context, page, errors) = await SignInAsync("viewer");

        var cookie = Assert.Single(await context.CookiesAsync(), c => c.Name == "mh_session");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);
        Assert.False(await page.EvaluateAsync<bool>("() => document.cookie.includes('mh_')"), "script must not read the session");

        await Expect(page.Locator("#job-submit")).ToBeHiddenAsync();
        await page.ClickAsync("nav a[data-view='missions']");
        await Expect(page.Locator("#mission-create")).ToBeHiddenAsync();
        await page.ClickAsync("nav a[data-view='jobs']");

        // A job submitted by an operator elsewhere shows up live, without a cancel button.
        using var operatorClient = AuthTestSupport.Client(_server, AuthTestSupport.RoleKeys["operator"]);
        using var submitted = await operatorClient.PostAsync(new Uri("/api/jobs", UriKind.Relative),
            new StringContent("""{"job_type":"render","priority":4}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, submitted.StatusCode);
        var jobId = JsonDocument.Parse(await submitted.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        await Expect(page.Locator($"#jobs-pending li[data-id='{jobId}']")).ToContainTextAsync("render");
        await Expect(page.Locator($"#jobs-pending li[data-id='{jobId}'] button[data-cancel]")).ToBeHiddenAsync();

        // The server refuses what is hidden, whatever the page does.
        var status = await page.EvaluateAsync<int>($"async () => (await fetch('/api/jobs/{jobId}/cancel', {{ method: 'POST' }})).status");
        Assert.Equal(403, status);

        await page.ClickAsync("#signout");
        await Expect(page.Locator("#signin-form")).ToBeVisibleAsync();
        Assert.DoesNotContain(await context.CookiesAsync(), c => c.Name == "mh_session");
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Viewer_SeesQueuesLive_WithoutPauseControls()
    {
        var (_, page, errors) = await SignInAsync("viewer");
        using var operatorClient = AuthTestSupport.Client(_server, AuthTestSupport.RoleKeys["operator"]);
        using var submitted = await operatorClient.PostAsync(new Uri("/api/jobs", UriKind.Relative),
            new StringContent("""{"job_type":"survey"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, submitted.StatusCode);

        await page.ClickAsync("nav a[data-view='queues']");
        var row = page.Locator("#queues-body tr[data-type='survey']");
        await Expect(row.Locator("[data-count='pending']")).ToHaveTextAsync("1");
        await Expect(row.Locator("button[data-queue]")).ToBeHiddenAsync();

        // An operator's pause elsewhere shows up live; the viewer's own is refused by the server.
        using var paused = await operatorClient.PostAsync(new Uri("/api/queues/survey/pause", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.OK, paused.StatusCode);
        await Expect(row).ToHaveAttributeAsync("data-paused", "true");
        var status = await page.EvaluateAsync<int>("async () => (await fetch('/api/queues/survey/resume', { method: 'POST' })).status");
        Assert.Equal(403, status);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Operator_CanSubmitAJob()
    {
        var (_, page, errors) = await SignInAsync("operator");
        await Expect(page.Locator("#job-submit")).ToBeVisibleAsync();
        await page.FillAsync("#job-submit input[name=job_type]", "transcode");
        await page.ClickAsync("#job-submit button[type=submit]");
        await Expect(page.Locator("#jobs-pending li").Filter(new() { HasText = "transcode" })).ToBeVisibleAsync();
        await Expect(page.Locator("#jobs-pending li button[data-cancel]").First).ToBeVisibleAsync();
        Assert.Empty(errors);
    }

    [Fact]
    public async Task RevokedSessionKey_TakesThePageBackToSignIn()
    {
        using var admin = AuthTestSupport.Client(_server, AuthTestSupport.RoleKeys["admin"]);
        using var created = await admin.PostAsync(new Uri("/api/auth/keys", UriKind.Relative),
            new StringContent("""{"name":"temp-viewer","roles":["viewer"]}""", Encoding.UTF8, "application/json"));
        var key = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
        var (context, page, _) = await browser.NewPageAsync();
        _disposables.Add(context);
        await page.GotoAsync(_server.BaseAddress.ToString());
        await page.FillAsync("#signin-form input[name=key]", key.GetProperty("secret").GetString()!);
        await page.ClickAsync("#signin-form button[type=submit]");
        await Expect(page.Locator("#conn")).ToHaveAttributeAsync("data-state", "live");

        using var revoked = await admin.DeleteAsync(new Uri($"/api/auth/keys/{key.GetProperty("id").GetString()}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        await Expect(page.Locator("#signin-form")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task WrongKey_StaysOnTheSignInPage_WithTheReason()
    {
        var (context, page, _) = await browser.NewPageAsync();
        _disposables.Add(context);
        await page.GotoAsync(_server.BaseAddress.ToString());
        await page.FillAsync("#signin-form input[name=key]", "mh_not-a-real-key-000000000000000000");
        await page.ClickAsync("#signin-form button[type=submit]");
        await Expect(page.Locator("#signin-error")).ToContainTextAsync("unknown, revoked or expired");
        await Expect(page.Locator("#signin-form")).ToBeVisibleAsync();
    }
}
