namespace MissionHub.Telemetry;

/// <summary>
/// One alert of one robot with hysteresis: raised after N consecutive frames past the raise threshold, cleared after
/// N consecutive frames past the clear threshold. A value between the two keeps the alert as it is and resets the count,
/// so a value hovering at the threshold neither raises nor clears it over and over.
/// </summary>
internal sealed class AlertTracker
{
    private readonly Func<double, bool> _breaches;
    private readonly Func<double, bool> _recovered;
    private int _streak;
    private DateTimeOffset _raisedAt;

    private AlertTracker(string alert, string metric, double raiseThreshold, double clearThreshold, Func<double, bool> breaches, Func<double, bool> recovered)
    {
        Alert = alert;
        Metric = metric;
        RaiseThreshold = raiseThreshold;
        ClearThreshold = clearThreshold;
        _breaches = breaches;
        _recovered = recovered;
    }

    public static AlertTracker Below(string alert, string metric, double raiseBelow, double clearAtOrAbove) =>
        new(alert, metric, raiseBelow, clearAtOrAbove, v => v < raiseBelow, v => v >= clearAtOrAbove);

    public static AlertTracker Above(string alert, string metric, double raiseAbove, double clearAtOrBelow) =>
        new(alert, metric, raiseAbove, clearAtOrBelow, v => v > raiseAbove, v => v <= clearAtOrBelow);

    public string Alert { get; }

    public string Metric { get; }

    public double RaiseThreshold { get; }

    public double ClearThreshold { get; }

    public bool Active { get; private set; }

    /// <summary>Takes one value; returns the change it caused, if any.</summary>
    public AlertChange? Observe(double value, int consecutiveFrames, DateTimeOffset at)
    {
        if (Active ? _recovered(value) : _breaches(value))
        {
            if (++_streak >= consecutiveFrames)
            {
                _streak = 0;
                Active = !Active;
                if (Active)
                {
                    _raisedAt = at;
                    return new AlertChange(this, true, value, at, TimeSpan.Zero);
                }
                return new AlertChange(this, false, value, at, at - _raisedAt);
            }
            return null;
        }
        _streak = 0;
        return null;
    }
}

internal sealed record AlertChange(AlertTracker Tracker, bool Raised, double Value, DateTimeOffset At, TimeSpan ActiveFor);
