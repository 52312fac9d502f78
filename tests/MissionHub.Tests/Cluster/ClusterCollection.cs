namespace MissionHub.Tests.Cluster;

/// <summary>
/// The cluster tests start several server processes each; on a small machine they run one class at a time, and
/// after the parallel part of the suite, so their timings are their own.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection
{
    public const string Name = "Cluster processes";
}
