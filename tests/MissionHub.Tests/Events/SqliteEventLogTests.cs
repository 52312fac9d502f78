using MissionHub.Events;

namespace MissionHub.Tests.Events;

public sealed class SqliteEventLogTests : EventLogContractTests
{
    protected override async Task<IEventLog> OpenAsync(string name, EventLogOptions? options = null) =>
        await EventLogs.OpenSqliteAsync(Folder.File(name + ".db"), options);

    protected override async Task<IEventLog?> ReopenForFieldsAsync(IEventLog log) => await OpenAsync("fields");

    [Fact]
    public async Task DeletedFile_GetsANewEpoch()
    {
        string firstEpoch;
        await using (var log = await OpenAsync("recreated"))
        {
            firstEpoch = log.Epoch;
            await log.AppendAsync(EventLogs.Draft("tick"));
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        File.Delete(Folder.File("recreated.db"));

        await using var recreated = await OpenAsync("recreated");

        Assert.NotEqual(firstEpoch, recreated.Epoch);
        Assert.Equal(0, recreated.LastSeq);
        Assert.False((await recreated.ReadAsync(new EventQuery(1, Epoch: firstEpoch))).Recovered);
    }
}
