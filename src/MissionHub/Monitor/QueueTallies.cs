namespace MissionHub.Monitor;

/// <summary>
/// Per job type, what the read model knows beyond its live jobs: which types are paused (from storage at a reset, then
/// from <c>queue_paused</c>/<c>queue_resumed</c>), and how many jobs of each type completed or failed since this
/// process started (for <c>/metrics</c> counters). Bounded: past <see cref="MaxTypes"/> job types, further ones are
/// counted under <see cref="OtherTypes"/>.
/// </summary>
internal sealed class QueueTallies
{
    public const int MaxTypes = 500;
    public const string OtherTypes = "_other";

    private readonly HashSet<string> _paused = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (long Completed, long Failed)> _finished = new(StringComparer.Ordinal);

    public IReadOnlyCollection<string> Paused => _paused;

    public IReadOnlyDictionary<string, (long Completed, long Failed)> Finished => _finished;

    public void ResetPaused(IEnumerable<string> paused)
    {
        _paused.Clear();
        _paused.UnionWith(paused);
    }

    public void SetPaused(string jobType, bool paused)
    {
        if (paused)
        {
            _paused.Add(jobType);
        }
        else
        {
            _paused.Remove(jobType);
        }
    }

    public void CountFinished(string jobType, bool completed)
    {
        var key = _finished.ContainsKey(jobType) || _finished.Count < MaxTypes ? jobType : OtherTypes;
        var (done, failed) = _finished.GetValueOrDefault(key);
        _finished[key] = completed ? (done + 1, failed) : (done, failed + 1);
    }
}
