using System.Text.Json.Nodes;

namespace MissionHub.ApiDocs;

/// <summary>A query parameter a handler reads from <c>HttpRequest.Query</c> itself, so the generator cannot see it.</summary>
public sealed record QueryParameterMetadata(string Name, string Description, string Type = "string");

/// <summary>A request header a handler reads itself (<c>Idempotency-Key</c>), so the generator cannot see it.</summary>
public sealed record HeaderParameterMetadata(string Name, string Description);

/// <summary>Examples of an operation's request body and its success response, as JSON text.</summary>
public sealed record ExampleMetadata(string? Request, string? Response);

/// <summary>Endpoint metadata that the OpenAPI transformers turn into parameters and examples.</summary>
public static class ApiDocsEndpointExtensions
{
    /// <summary>Documents query parameters read by hand: <c>("status", "only missions in this status")</c>.</summary>
    public static TBuilder WithQuery<TBuilder>(this TBuilder builder, params (string Name, string Description)[] parameters)
        where TBuilder : IEndpointConventionBuilder
    {
        foreach (var (name, description) in parameters)
        {
            builder.WithMetadata(new QueryParameterMetadata(name, description));
        }
        return builder;
    }

    /// <summary>Documents one numeric query parameter read by hand.</summary>
    public static TBuilder WithNumberQuery<TBuilder>(this TBuilder builder, string name, string description)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new QueryParameterMetadata(name, description, "number"));

    /// <summary>Documents an optional request header read by hand.</summary>
    public static TBuilder WithHeader<TBuilder>(this TBuilder builder, string name, string description)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new HeaderParameterMetadata(name, description));

    /// <summary>Examples (JSON text) of the request body and of the success response.</summary>
    public static TBuilder WithExamples<TBuilder>(this TBuilder builder, string? request = null, string? response = null)
        where TBuilder : IEndpointConventionBuilder
    {
        _ = request is null ? null : JsonNode.Parse(request);
        _ = response is null ? null : JsonNode.Parse(response);
        return builder.WithMetadata(new ExampleMetadata(request, response));
    }

    /// <summary>The problem+json answers an endpoint can give, each as RFC 7807 <c>application/problem+json</c>.</summary>
    public static TBuilder WithProblems<TBuilder>(this TBuilder builder, params int[] statusCodes)
        where TBuilder : IEndpointConventionBuilder
    {
        foreach (var status in statusCodes)
        {
            builder.WithMetadata(new Microsoft.AspNetCore.Http.ProducesResponseTypeMetadata(
                status, typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), ["application/problem+json"]));
        }
        return builder;
    }
}
