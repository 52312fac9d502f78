using System.Net;

namespace MissionHub.Client;

/// <summary>
/// The hub refused a request: <see cref="StatusCode"/> and the problem+json <see cref="Detail"/> (and, for a 400,
/// the <see cref="Field"/> it names).
/// </summary>
public sealed class MissionHubApiException : Exception
{
    /// <summary>A refusal of <paramref name="request"/> with its status and problem fields.</summary>
    public MissionHubApiException(HttpStatusCode statusCode, string? title, string? detail, string? field, string? body, string? request)
        : base(Describe(statusCode, detail ?? title, field, request))
    {
        StatusCode = statusCode;
        Title = title;
        Detail = detail;
        Field = field;
        Body = body;
    }

    /// <summary>A refusal with no details.</summary>
    public MissionHubApiException()
        : this(HttpStatusCode.InternalServerError, null, null, null, null, null)
    {
    }

    /// <summary>A failure described by <paramref name="message"/>.</summary>
    public MissionHubApiException(string message)
        : base(message)
    {
    }

    /// <summary>A failure described by <paramref name="message"/>, caused by <paramref name="innerException"/>.</summary>
    public MissionHubApiException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The HTTP status of the answer.</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary>The problem's <c>title</c> ("Invalid request", "Not found", "Conflict").</summary>
    public string? Title { get; }

    /// <summary>The problem's <c>detail</c>: what is wrong, for a person.</summary>
    public string? Detail { get; }

    /// <summary>The request field the problem names (400s), if any.</summary>
    public string? Field { get; }

    /// <summary>The raw response body.</summary>
    public string? Body { get; }

    private static string Describe(HttpStatusCode status, string? detail, string? field, string? request) =>
        $"{request ?? "the request"} answered {(int)status} {status}"
        + (detail is null ? "" : $": {detail}")
        + (field is null ? "" : $" (field '{field}')");
}
