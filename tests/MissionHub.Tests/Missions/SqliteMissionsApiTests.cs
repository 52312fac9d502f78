namespace MissionHub.Tests.Missions;

/// <summary>The missions contract on the embedded SQLite backend; restarts reopen the same file.</summary>
public sealed class SqliteMissionsApiTests : MissionsApiTests
{
    private readonly string _databasePath;

    public SqliteMissionsApiTests() => _databasePath = Folder.File("missions.db");

    protected override MissionHubFactory CreateFactory() => MissionHubFactory.WithSqlite(_databasePath);
}
