using System.Text.Json.Serialization;

namespace MissionHub.Client;

/// <summary>The wire types of the operator APIs: queues and keys.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(QueueList))]
[JsonSerializable(typeof(QueueChange))]
[JsonSerializable(typeof(NewApiKey))]
[JsonSerializable(typeof(CreatedApiKey))]
[JsonSerializable(typeof(ApiKeyList))]
internal sealed partial class OperationsJsonContext : JsonSerializerContext;
