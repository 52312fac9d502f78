using System.Diagnostics;

namespace MissionHub.Tests.Dashboard;

/// <summary>
/// The dashboard's store (<c>wwwroot/store.js</c>, the page's one projection of the wire events) over the shared
/// fixtures in <c>tests/fixtures/projection</c>, with node's built-in test runner: <c>node --test tests/dashboard-store/</c>.
/// </summary>
public sealed class StoreProjectionTests
{
    [Fact]
    public async Task DashboardStore_ProjectsEveryFixture_AsExpected()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "MissionHub.slnx")))
        {
            root = root.Parent ?? throw new DirectoryNotFoundException("MissionHub.slnx not found");
        }
        using var node = Process.Start(new ProcessStartInfo("node")
        {
            ArgumentList = { "--test", "--test-reporter=spec", Path.Combine("tests", "dashboard-store") },
            WorkingDirectory = root.FullName,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("node did not start (scripts/test installs nodejs)");
        var output = node.StandardOutput.ReadToEndAsync();
        var errors = node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        Assert.True(node.ExitCode == 0, $"node --test tests/dashboard-store/ failed ({node.ExitCode}):\n{await output}{await errors}");
    }
}
