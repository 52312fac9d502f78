using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using MissionHub.Storage;
using MissionHub.Storage.Redis;
using MissionHub.Storage.Sqlite;

namespace MissionHub.Missions;

public static class MissionsExtensions
{
    /// <summary>Missions on the configured backend. Needs <c>AddMissionHubStorage</c> and <c>AddMissionHubEvents</c> first.</summary>
    public static IHostApplicationBuilder AddMissionHubMissions(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<MissionOptions>().BindConfiguration(MissionOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MissionOptions>, MissionOptionsValidator>());
        services.TryAddSingleton<SqliteMissionStore>();
        services.TryAddSingleton<RedisMissionStore>();
        services.TryAddSingleton<IMissionStore>(sp =>
            sp.GetRequiredService<IOptions<StorageOptions>>().Value.UsesRedis
                ? sp.GetRequiredService<RedisMissionStore>()
                : sp.GetRequiredService<SqliteMissionStore>());
        services.TryAddSingleton<MissionService>();
        services.AddHostedService<MissionStoreStartup>();
        // First in the chain: the reflection resolver ASP.NET Core puts there would otherwise answer for these types.
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, MissionsJsonContext.Default));
        return builder;
    }
}

/// <summary>Creates the missions tables (SQLite) before the server takes its first request.</summary>
internal sealed class MissionStoreStartup(IMissionStore store) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => store.InitializeAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Section <c>MissionHub:Missions</c>.</summary>
public sealed class MissionOptions
{
    public const string Section = "MissionHub:Missions";

    /// <summary>Most entries one mission's log keeps; an append beyond it is refused with 409 (the log stays as it is).</summary>
    public int MaxLogEntries { get; set; } = 10_000;
}

internal sealed class MissionOptionsValidator : IValidateOptions<MissionOptions>
{
    public ValidateOptionsResult Validate(string? name, MissionOptions options) =>
        options.MaxLogEntries >= 1
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"{MissionOptions.Section}:MaxLogEntries is {options.MaxLogEntries}; it must be at least 1, e.g. 10000");
}
