using MissionHub.Missions;

namespace MissionHub.Tests.Missions;

public sealed class MissionStatusTests
{
    [Theory]
    [InlineData("PENDING", "RUNNING", true)]
    [InlineData("PENDING", "FAILED", true)]
    [InlineData("PENDING", "CANCELLED", true)]
    [InlineData("PENDING", "COMPLETED", false)]
    [InlineData("RUNNING", "COMPLETED", true)]
    [InlineData("RUNNING", "FAILED", true)]
    [InlineData("RUNNING", "CANCELLED", true)]
    [InlineData("RUNNING", "PENDING", false)]
    [InlineData("COMPLETED", "RUNNING", false)]
    [InlineData("FAILED", "PENDING", false)]
    [InlineData("CANCELLED", "RUNNING", false)]
    [InlineData("CANCELLED", "COMPLETED", false)]
    public void CanChange_FollowsTheStatusMachine(string from, string to, bool allowed) =>
        Assert.Equal(allowed, MissionStatuses.CanChange(MissionStatuses.Parse(from), MissionStatuses.Parse(to)));

    [Fact]
    public void FinalStatuses_AllowNoChangeAtAll()
    {
        foreach (var final in MissionStatuses.All.Where(s => s.IsFinal()))
        {
            Assert.All(MissionStatuses.All, to => Assert.False(MissionStatuses.CanChange(final, to)));
        }
        Assert.Equal([MissionStatus.Completed, MissionStatus.Failed, MissionStatus.Cancelled], MissionStatuses.All.Where(s => s.IsFinal()));
    }

    [Fact]
    public void AllowedFrom_IsTheInverseOfCanChange()
    {
        Assert.Equal([MissionStatus.Pending], MissionStatuses.AllowedFrom(MissionStatus.Running));
        Assert.Equal([MissionStatus.Pending, MissionStatus.Running], MissionStatuses.AllowedFrom(MissionStatus.Cancelled));
        Assert.Empty(MissionStatuses.AllowedFrom(MissionStatus.Pending));
    }

    [Theory]
    [InlineData("running")]
    [InlineData("DONE")]
    [InlineData("")]
    public void TryParse_TakesOnlyTheUppercaseWireValues(string value) =>
        Assert.False(MissionStatuses.TryParse(value, out _));
}
