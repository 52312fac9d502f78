namespace MissionHub.Tests.Missions;

/// <summary>The missions contract on a real redis-server; restarts reuse the same server and key prefix.</summary>
public sealed class RedisMissionsApiTests(RedisServerFixture redis) : MissionsApiTests, IClassFixture<RedisServerFixture>
{
    private readonly string _keyPrefix = $"t{Guid.NewGuid():N}:";

    protected override MissionHubFactory CreateFactory() => MissionHubFactory.WithRedis(redis.Server, keyPrefix: _keyPrefix);
}
