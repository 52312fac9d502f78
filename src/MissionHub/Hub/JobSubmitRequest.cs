using System.Text.Json;

namespace MissionHub.Hub;

/// <summary>
/// The body of <c>POST /api/jobs</c> as documented. <see cref="JobsApi.TryParseNewJob"/> reads it by hand so each
/// refusal names its field; this record is its contract in the OpenAPI document.
/// </summary>
public sealed record JobSubmitRequest(
    string JobType,
    int? Priority,
    JsonElement? Payload,
    string? WorkflowId,
    int? MaxAttempts,
    double? TimeoutS,
    string? IdempotencyKey,
    double? RunAt,
    double? DelayS,
    IReadOnlyList<string>? DependsOn);

/// <summary>The body of <c>POST /api/jobs/batch</c> as documented: each job as <c>POST /api/jobs</c> takes it.</summary>
public sealed record JobBatchRequest(IReadOnlyList<JobSubmitRequest> Jobs);
