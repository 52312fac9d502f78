using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using MissionHub.Auth;
using MissionHub.Events;
using MissionHub.Infrastructure;

namespace MissionHub.Monitor;

public static class MonitorApi
{
    /// <summary>The monitor read model and its options. Needs events and jobs.</summary>
    public static IHostApplicationBuilder AddMissionHubMonitor(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<MonitorOptions>().BindConfiguration(MonitorOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MonitorOptions>, MonitorOptionsValidator>());
        services.TryAddSingleton<MonitorState>();
        services.AddHostedService(sp => sp.GetRequiredService<MonitorState>());
        return builder;
    }

    /// <summary><c>/ws/monitor</c>.</summary>
    public static IEndpointRouteBuilder MapMonitorSocket(this IEndpointRouteBuilder app)
    {
        app.Map("/ws/monitor", AcceptAsync).WithTags("Monitor").RequireAuthorization(Policies.Viewer);
        return app;
    }

    private static async Task AcceptAsync(
        HttpContext context, EventBus bus, MonitorState state, IOptions<MonitorOptions> options, TimeProvider time,
        IHostApplicationLifetime lifetime, ILoggerFactory loggers)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await Problems.Invalid("Upgrade", "/ws/monitor speaks WebSocket: connect with a WebSocket client").ExecuteAsync(context);
            return;
        }
        // permessage-deflate when the client offers it (opt-in per client, as spec 003 Phase 4 asks).
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { DangerousEnableCompression = true });
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        using var connection = new MonitorConnection(socket, bus, state, options.Value, time, loggers.CreateLogger("MissionHub.Monitor.MonitorConnection"));
        state.MonitorConnected();
        try
        {
            await connection.RunAsync(stopping.Token);
        }
        finally
        {
            state.MonitorDisconnected();
        }
    }
}
