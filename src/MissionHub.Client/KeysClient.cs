namespace MissionHub.Client;

/// <summary>
/// The API keys REST API (<c>/api/auth/keys</c>, admin only). Creating the first key ends protected mode: from then on
/// every request needs a credential, loopback included. A refusal surfaces as <see cref="MissionHubApiException"/>.
/// </summary>
public sealed class KeysClient
{
    private readonly ApiTransport _api;

    /// <summary>A client on <paramref name="http"/>, whose <see cref="HttpClient.BaseAddress"/> is the hub.</summary>
    public KeysClient(HttpClient http) => _api = new ApiTransport(http);

    /// <summary>
    /// <c>POST /api/auth/keys</c>: the new key and its secret (shown only in this answer). A name in use is a 409
    /// <see cref="MissionHubApiException"/>; an invalid name, role or pattern a 400 naming the field.
    /// </summary>
    public Task<CreatedApiKey> CreateAsync(NewApiKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _api.PostAsync("api/auth/keys", key, OperationsJsonContext.Default.NewApiKey, OperationsJsonContext.Default.CreatedApiKey, cancellationToken);
    }

    /// <summary><c>GET /api/auth/keys</c>: every key, without secrets.</summary>
    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(CancellationToken cancellationToken = default) =>
        (await _api.GetAsync("api/auth/keys", OperationsJsonContext.Default.ApiKeyList, cancellationToken)).Keys;

    /// <summary>
    /// <c>DELETE /api/auth/keys/{id}</c>: the key stops working at once. An unknown id is a 404; a key from configuration
    /// a 409 (remove it there).
    /// </summary>
    public Task RevokeAsync(string id, CancellationToken cancellationToken = default) =>
        _api.DeleteAsync($"api/auth/keys/{ApiTransport.Segment(id)}", cancellationToken);
}
