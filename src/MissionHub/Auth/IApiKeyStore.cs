namespace MissionHub.Auth;

/// <summary>
/// Keys created through the API, on the configured backend. Shared by every process on one Redis: a change made
/// anywhere is announced through <see cref="Changed"/> in every process.
/// </summary>
public interface IApiKeyStore
{
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>Stores a new key; false if the name is taken.</summary>
    Task<bool> CreateAsync(ApiKeyRecord key, CancellationToken cancellationToken);

    Task<IReadOnlyList<ApiKeyRecord>> ListAsync(CancellationToken cancellationToken);

    Task<ApiKeyRecord?> FindByHashAsync(string secretHash, CancellationToken cancellationToken);

    /// <summary>Removes the key; false if there was none with that id.</summary>
    Task<bool> RevokeAsync(string id, CancellationToken cancellationToken);

    Task<long> CountAsync(CancellationToken cancellationToken);

    /// <summary>Raised after a key was created or revoked, here or (Redis) in another process; the argument is the key's id.</summary>
    event Action<KeyChange>? Changed;
}

public enum KeyChangeKind
{
    Created,
    Revoked,
}

public sealed record KeyChange(KeyChangeKind Kind, string Id);
