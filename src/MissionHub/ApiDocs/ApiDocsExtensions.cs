using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace MissionHub.ApiDocs;

/// <summary>
/// <c>/openapi/v1.json</c> (OpenAPI 3.1 generated from the endpoints' own metadata), <c>/docs</c> (the Scalar
/// reference on it) and <c>/asyncapi/v1.json</c> (the socket protocols and event types, generated from the records
/// the server serialises).
/// </summary>
public static class ApiDocsExtensions
{
    public const string DocumentName = "v1";

    public static IHostApplicationBuilder AddMissionHubApiDocs(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOpenApi(DocumentName, options =>
        {
            options.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
            options.AddDocumentTransformer((document, _, _) =>
            {
                Describe(document);
                return Task.CompletedTask;
            });
            options.AddOperationTransformer((operation, context, _) =>
            {
                AddHandwrittenMetadata(operation, context.Description.ActionDescriptor.EndpointMetadata);
                return Task.CompletedTask;
            });
        });
        return builder;
    }

    public static IEndpointRouteBuilder MapMissionHubApiDocs(this IEndpointRouteBuilder app)
    {
        // The documents describe the API, not its data, but like every endpoint but liveness they need a credential
        // once keys are configured (any role that may read).
        app.MapOpenApi("/openapi/{documentName}.json").RequireAuthorization(Auth.Policies.Viewer);
        app.MapScalarApiReference("/docs", scalar => scalar
            .WithTitle("MissionHub API")
            .WithOpenApiRoutePattern("/openapi/{documentName}.json")).RequireAuthorization(Auth.Policies.Viewer);
        app.MapGet("/asyncapi/v1.json", (HttpRequest request) =>
                TypedResults.Text(AsyncApiDocument.Build(request.Host.HasValue ? request.Host.Value! : "localhost:5080").ToJsonString(), "application/json"))
            .WithTags("Docs")
            .RequireAuthorization(Auth.Policies.Viewer)
            .WithSummary("The AsyncAPI 3 document of the WebSocket protocols and the event types")
            .Produces<JsonObject>(StatusCodes.Status200OK, "application/json");
        return app;
    }

    private static void Describe(OpenApiDocument document)
    {
        document.Info = new OpenApiInfo
        {
            Title = "MissionHub",
            Version = "v1",
            Description = "Missions, a job hub with workers, robot telemetry, a supervisor and one durable, ordered event stream "
                + "(Charter v1.0 envelopes with a gap-free seq). Every answer is JSON with snake_case keys; every refusal is "
                + "RFC 7807 application/problem+json with a detail a person can read. The WebSocket protocols and event types "
                + "are described in the AsyncAPI document at /asyncapi/v1.json.",
        };
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes["api_key"] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Header,
            Name = "X-Api-Key",
            Description = "An API key (mh_…). Without configured keys the server is in protected mode and serves loopback clients only.",
        };
        document.Components.SecuritySchemes["bearer"] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "Authorization: Bearer mh_… (an API key) or a JWT when MissionHub:Auth:Jwt is configured.",
        };
        document.Security ??= [];
        document.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("api_key", document)] = [] });
        document.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", document)] = [] });

        // Route groups map "/" as "/api/missions/": clients call it without the slash.
        foreach (var path in document.Paths.Keys.Where(p => p.Length > 1 && p.EndsWith('/')).ToList())
        {
            var item = document.Paths[path];
            document.Paths.Remove(path);
            document.Paths[path.TrimEnd('/')] = item;
        }

        // /metrics is the Prometheus exporter's own request delegate, which carries no handler metadata.
        document.Paths["/metrics"] = new OpenApiPathItem
        {
            Operations = new Dictionary<HttpMethod, OpenApiOperation>
            {
                [HttpMethod.Get] = new()
                {
                    OperationId = "GetPrometheusMetrics",
                    Summary = "Prometheus text exposition of the missionhub_* series and the ASP.NET Core HTTP metrics",
                    Tags = new HashSet<OpenApiTagReference> { new("Metrics", document) },
                    Responses = new OpenApiResponses
                    {
                        ["200"] = new OpenApiResponse
                        {
                            Description = "Prometheus text format 0.0.4 (or OpenMetrics when asked with Accept)",
                            Content = new Dictionary<string, OpenApiMediaType>
                            {
                                ["text/plain"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String } },
                            },
                        },
                    },
                },
            },
        };
    }

    private static void AddHandwrittenMetadata(OpenApiOperation operation, IList<object> metadata)
    {
        foreach (var query in metadata.OfType<QueryParameterMetadata>())
        {
            operation.Parameters ??= [];
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = query.Name,
                In = ParameterLocation.Query,
                Required = false,
                Description = query.Description,
                Schema = new OpenApiSchema { Type = query.Type == "number" ? JsonSchemaType.Number : JsonSchemaType.String },
            });
        }
        foreach (var header in metadata.OfType<HeaderParameterMetadata>())
        {
            operation.Parameters ??= [];
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = header.Name,
                In = ParameterLocation.Header,
                Required = false,
                Description = header.Description,
                Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 128 },
            });
        }
        foreach (var example in metadata.OfType<ExampleMetadata>())
        {
            if (example.Request is not null && operation.RequestBody?.Content is { } requestContent)
            {
                foreach (var media in requestContent.Values)
                {
                    media.Example = JsonNode.Parse(example.Request);
                }
            }
            if (example.Response is not null && operation.Responses is { } responses)
            {
                foreach (var (status, response) in responses)
                {
                    if (status.StartsWith('2') && response.Content is { } content && content.TryGetValue("application/json", out var media))
                    {
                        media.Example = JsonNode.Parse(example.Response);
                    }
                }
            }
        }
    }
}
