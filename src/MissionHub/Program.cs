using Microsoft.Extensions.Options;
using MissionHub;

var builder = WebApplication.CreateBuilder(args);
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

public partial class Program;
