using Microsoft.Extensions.Options;
using MissionHub;

// appsettings files are read once: watching them means watching the content root, and the database under
// ./data would then wake the watcher on every write. Put first so an explicit setting still wins.
var builder = WebApplication.CreateBuilder(["--hostBuilder:reloadConfigOnChange=false", .. args]);
builder.AddMissionHub();

var app = builder.Build();
app.MapMissionHub();

try
{
    await app.RunAsync();
    return 0;
}
catch (OptionsValidationException invalid)
{
    // One clear line naming the setting and what it may be.
    Console.Error.WriteLine($"MissionHub: invalid configuration: {string.Join("; ", invalid.Failures)}");
    return 2;
}
catch (MissionHub.Storage.Sqlite.StorageInUseException inUse)
{
    Console.Error.WriteLine($"MissionHub: cannot start: {inUse.Message}");
    return 2;
}

public partial class Program;
