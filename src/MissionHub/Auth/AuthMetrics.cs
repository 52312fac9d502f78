using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using MissionHub.Metrics;

namespace MissionHub.Auth;

/// <summary>Auth's instruments on the MissionHub meter: refused credentials, by how they were sent.</summary>
public sealed class AuthMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _rejected;

    public AuthMetrics(IMeterFactory meters, IOptions<MetricsOptions> options)
    {
        _meter = meters.Create(options.Value.MeterName);
        _failed = _meter.CreateCounter<long>("missionhub.auth.failed_signins", "{attempt}", "Credentials refused (unknown, revoked or expired keys; invalid tokens)");
        _rejected = _meter.CreateCounter<long>("missionhub.auth.rate_limited", "{request}", "Requests and streams refused by a per-credential limit");
    }

    public void SignInFailed(string via) => _failed.Add(1, new KeyValuePair<string, object?>("via", via));

    public void Limited(string what) => _rejected.Add(1, new KeyValuePair<string, object?>("limit", what));

    public void Dispose() => _meter.Dispose();
}
