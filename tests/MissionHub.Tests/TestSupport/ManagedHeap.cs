namespace MissionHub.Tests.TestSupport;

/// <summary>
/// The managed heap of this process (an in-process server's included) after a full collection: a baseline, then the
/// largest growth seen over samples taken while an adversarial client runs.
/// </summary>
public sealed class ManagedHeap
{
    private readonly long _baseline = Measure();

    public long MaxGrowth { get; private set; }

    public long MaxGrowthMiB => MaxGrowth / (1024 * 1024);

    public void Sample() => MaxGrowth = Math.Max(MaxGrowth, Measure() - _baseline);

    private static long Measure()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
