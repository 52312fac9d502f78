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

/// <summary>
/// Tests that bound this process's managed heap run alone: the heap is shared with every test running beside them,
/// whose allocations would otherwise count against the bound.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HeapBoundCollection
{
    public const string Name = "managed heap bounds";
}
