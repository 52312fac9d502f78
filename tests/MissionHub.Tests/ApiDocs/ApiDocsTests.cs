using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;
using MissionHub.ApiDocs;
using MissionHub.Client;

namespace MissionHub.Tests.ApiDocs;

/// <summary>/openapi/v1.json, /docs and /asyncapi/v1.json of a real server, checked against its own endpoint table.</summary>
public sealed class ApiDocsTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private MissionHubFactory _factory = null!;
    private HttpClient _http = null!;

    public Task InitializeAsync()
    {
        _factory = MissionHubFactory.WithSqlite(_folder.File("hub.db"));
        _http = _factory.CreateClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _factory.DisposeAsync();
        _folder.Dispose();
    }

    private async Task<(OpenApiDocument Document, string Json)> ReadOpenApiAsync()
    {
        using var response = await _http.GetAsync(new Uri("/openapi/v1.json", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await response.Content.ReadAsStringAsync();
        var read = OpenApiDocument.Parse(json, OpenApiConstants.Json, new OpenApiReaderSettings());
        Assert.NotNull(read.Document);
        Assert.Empty(read.Diagnostic?.Errors ?? []);
        return (read.Document, json);
    }

    [Fact]
    public async Task OpenApiDocument_IsValidOpenApi31_ByTheMicrosoftOpenApiReaderAndRules()
    {
        var (document, json) = await ReadOpenApiAsync();

        Assert.StartsWith("3.1", JsonNode.Parse(json)!["openapi"]!.GetValue<string>(), StringComparison.Ordinal);
        var errors = document.Validate(ValidationRuleSet.GetDefaultRuleSet())?.ToList() ?? [];
        Assert.True(errors.Count == 0, string.Join("\n", errors.Select(e => $"{e.Pointer}: {e.Message}")));
        Assert.Equal("MissionHub", document.Info.Title);
        Assert.Contains("api_key", document.Components!.SecuritySchemes!.Keys);
    }

    [Fact]
    public async Task EveryRegisteredEndpoint_IsInTheOpenApiOrAsyncApiDocument()
    {
        var (document, _) = await ReadOpenApiAsync();
        var asyncApi = JsonNode.Parse(await _http.GetStringAsync(new Uri("/asyncapi/v1.json", UriKind.Relative)))!;
        var channelAddresses = asyncApi["channels"]!.AsObject().Select(c => c.Value!["address"]!.GetValue<string>()).ToHashSet();

        var endpoints = _factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();
        Assert.NotEmpty(endpoints);
        var undocumented = new List<string>();
        var excluded = new List<string>();
        foreach (var endpoint in endpoints)
        {
            var path = "/" + endpoint.RoutePattern.RawText!.Trim('/');
            if (endpoint.Metadata.GetMetadata<IExcludeFromDescriptionMetadata>() is { ExcludeFromDescription: true })
            {
                excluded.Add(path);
                continue;
            }
            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods;
            if (methods is null or { Count: 0 })
            {
                // Any method: a socket (then an AsyncAPI channel) or a request delegate documented by hand (/metrics).
                if (!channelAddresses.Contains(path) && !document.Paths.ContainsKey(path))
                {
                    undocumented.Add($"* {path}");
                }
                continue;
            }
            foreach (var method in methods)
            {
                if (!document.Paths.TryGetValue(path, out var item) || item.Operations is null
                    || !item.Operations.ContainsKey(HttpMethod.Parse(method)))
                {
                    undocumented.Add($"{method} {path}");
                }
            }
        }
        Assert.True(undocumented.Count == 0, "endpoints missing from /openapi/v1.json and /asyncapi/v1.json: " + string.Join(", ", undocumented));
        // What is left out on purpose, and nothing else: the documents themselves and the robot-id-less socket path.
        Assert.All(excluded, path => Assert.True(
            path.StartsWith("/openapi/", StringComparison.Ordinal) || path.StartsWith("/docs", StringComparison.Ordinal) || path == "/api/telemetry/ws",
            $"{path} is excluded from the API description"));
        Assert.Contains("/ws/worker", channelAddresses);
        Assert.Contains("/ws/monitor", channelAddresses);
        Assert.Contains("/api/telemetry/ws/{robot_id}", channelAddresses);
    }

    [Fact]
    public async Task Operations_HaveSuccessAndProblemJsonResponses_AndSnakeCaseSchemas()
    {
        var (document, json) = await ReadOpenApiAsync();

        foreach (var (path, item) in document.Paths)
        {
            foreach (var (method, operation) in item.Operations!)
            {
                Assert.False(string.IsNullOrEmpty(operation.Summary), $"{method} {path} has no summary");
                Assert.Contains(operation.Responses!.Keys, k => k.StartsWith('2'));
                foreach (var (status, response) in operation.Responses!.Where(r => r.Key.StartsWith('4')))
                {
                    Assert.True(response.Content?.ContainsKey("application/problem+json") == true, $"{method} {path} {status} is not problem+json");
                }
            }
        }
        var schemas = JsonNode.Parse(json)!["components"]!["schemas"]!.AsObject();
        Assert.Contains("Job", schemas.Select(s => s.Key));
        foreach (var (name, schema) in schemas)
        {
            foreach (var property in schema!["properties"]?.AsObject() ?? [])
            {
                Assert.Matches("^[a-z0-9_]+$", property.Key);
            }
        }
        // Numbers are numbers on the wire: not "number or numeric string".
        Assert.Equal("number", schemas["MissionResponse"]!["properties"]!["created_at"]!["type"]!.GetValue<string>());
        var jobProperties = schemas["Job"]!["properties"]!.AsObject().Select(p => p.Key).ToList();
        Assert.Contains("job_type", jobProperties);
        Assert.Contains("max_attempts", jobProperties);
        Assert.Contains("traceparent", jobProperties);
    }

    [Fact]
    public async Task RequestBodies_HaveSchemas_AndExamplesFromTheSpecs()
    {
        var (document, _) = await ReadOpenApiAsync();

        var createMission = document.Paths["/api/missions"].Operations![HttpMethod.Post];
        var media = createMission.RequestBody!.Content!["application/json"];
        Assert.NotNull(media.Schema);
        Assert.Equal("Deploy Application v2.0", media.Example!["name"]!.GetValue<string>());
        Assert.Contains("409", createMission.Responses!.Keys);
        Assert.Contains("201", createMission.Responses!.Keys);

        var submit = document.Paths["/api/jobs"].Operations![HttpMethod.Post];
        Assert.Equal("render", submit.RequestBody!.Content!["application/json"].Example!["job_type"]!.GetValue<string>());
        var listJobs = document.Paths["/api/jobs"].Operations![HttpMethod.Get];
        Assert.Contains(listJobs.Parameters!, p => p.Name == "status" && p.In == ParameterLocation.Query);
        Assert.Contains(createMission.Parameters!, p => p.Name == "Idempotency-Key" && p.In == ParameterLocation.Header && p.Required == false);
        var batch = document.Paths["/api/jobs/batch"].Operations![HttpMethod.Post];
        Assert.Contains(batch.Parameters!, p => p.Name == "Idempotency-Key" && p.In == ParameterLocation.Header);
        Assert.Contains("200", batch.Responses!.Keys);
        Assert.Contains("text/plain", document.Paths["/metrics"].Operations![HttpMethod.Get].Responses!["200"].Content!.Keys);
    }

    [Fact]
    public async Task Docs_ServesTheScalarReference()
    {
        using var response = await _http.GetAsync(new Uri("/docs", UriKind.Relative));
        var final = response;
        Assert.True(response.IsSuccessStatusCode, $"/docs answered {(int)response.StatusCode}");
        var html = await final.Content.ReadAsStringAsync();
        Assert.Contains("<html", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("openapi/v1.json", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AsyncApiDocument_Is30_AndEveryReferenceResolves()
    {
        var document = JsonNode.Parse(await _http.GetStringAsync(new Uri("/asyncapi/v1.json", UriKind.Relative)))!;

        Assert.Equal("3.0.0", document["asyncapi"]!.GetValue<string>());
        Assert.NotNull(document["info"]!["title"]);
        var references = new List<string>();
        Collect(document, references);
        Assert.NotEmpty(references);
        foreach (var reference in references)
        {
            Assert.StartsWith("#/", reference, StringComparison.Ordinal);
            JsonNode? node = document;
            foreach (var segment in reference[2..].Split('/'))
            {
                node = node?[segment.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)];
            }
            Assert.True(node is not null, $"{reference} does not resolve");
        }
        foreach (var (_, operation) in document["operations"]!.AsObject())
        {
            Assert.Contains(operation!["action"]!.GetValue<string>(), new[] { "send", "receive" });
        }
        var assigned = document["components"]!["messages"]!["worker_job_assigned"]!["payload"]!;
        Assert.Equal("job_assigned", assigned["properties"]!["type"]!["const"]!.GetValue<string>());
        Assert.NotNull(assigned["properties"]!["job"]!["properties"]!["job_type"]);
    }

    [Fact]
    public async Task AsyncApiDocument_IsValid_ByTheAsyncApiParser()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "MissionHub.slnx")))
        {
            root = root.Parent ?? throw new DirectoryNotFoundException("MissionHub.slnx not found");
        }
        var validator = Path.Combine(root.FullName, "tests", "asyncapi-validator");
        Assert.True(Directory.Exists(Path.Combine(validator, "node_modules", "@asyncapi", "parser")),
            "the AsyncAPI parser is not installed: ./scripts/test installs it (npm install --prefix tests/asyncapi-validator)");
        var document = _folder.File("asyncapi.json");
        await File.WriteAllTextAsync(document, await _http.GetStringAsync(new Uri("/asyncapi/v1.json", UriKind.Relative)));

        using var node = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("node")
        {
            ArgumentList = { Path.Combine(validator, "validate.js"), document },
            WorkingDirectory = validator,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = node.StandardOutput.ReadToEndAsync();
        var errors = node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        Assert.True(node.ExitCode == 0, $"the AsyncAPI parser refused /asyncapi/v1.json ({node.ExitCode}):\n{await output}{await errors}");
    }

    [Fact]
    public async Task AsyncApi_DescribesTheFramesTheClientSends_AndTheEventsTheServerWrites()
    {
        var document = JsonNode.Parse(await _http.GetStringAsync(new Uri("/asyncapi/v1.json", UriKind.Relative)))!;
        var messages = document["components"]!["messages"]!;

        // The .NET client's worker frames use only fields the document gives their message.
        var register = JsonNode.Parse(JsonSerializer.Serialize(
            new WorkerRegisterMessage("worker_register", "w1", new WorkerCapabilitiesMessage(["render"], 2), ["job-still-running"]), MissionHubClientJsonContext.Default.WorkerRegisterMessage))!;
        AssertFieldsDocumented(register, messages["worker_worker_register"]!["payload"]!, "worker_register");

        // A real job through a real worker, and a mission: every event written is a documented type whose payload
        // fields are all in its schema.
        var worker = new WorkerClient(new WorkerClientOptions { ServerUri = _factory.BaseAddress, WorkerId = "docs-1", JobTypes = ["render"] });
        using var stop = new CancellationTokenSource();
        var run = worker.RunAsync((job, _) => Task.FromResult<JsonElement?>(JsonSerializer.SerializeToElement(new { ok = true })), stop.Token);
        var jobs = new JobsClient(_http);
        var submitted = await jobs.SubmitAsync(new JobSubmission { JobType = "render" });
        await Eventually.TrueAsync(async () => (await jobs.GetAsync(submitted.Id)).Status == "completed", TimeSpan.FromSeconds(10), "the job to complete");
        using (var created = await _http.PostAsync(new Uri("/api/missions", UriKind.Relative),
            new StringContent("""{"name":"Survey"}""", System.Text.Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));

        var page = JsonNode.Parse(await _http.GetStringAsync(new Uri("/api/events?after_seq=0&limit=1000", UriKind.Relative)))!;
        var events = page["events"]!.AsArray();
        Assert.Contains(events, e => e!["type"]!.GetValue<string>() == "job_completed");
        foreach (var evt in events)
        {
            var type = evt!["type"]!.GetValue<string>();
            var message = messages[$"event_{type.Replace('.', '_')}"];
            Assert.True(message is not null, $"event type {type} is not in /asyncapi/v1.json");
            AssertFieldsDocumented(evt, message!["payload"]!, type);
            AssertFieldsDocumented(evt["payload"]!, message["payload"]!["properties"]!["payload"]!, type + ".payload");
        }
    }

    private static void AssertFieldsDocumented(JsonNode instance, JsonNode schema, string what)
    {
        var properties = schema["properties"]!.AsObject();
        foreach (var (name, _) in instance.AsObject())
        {
            Assert.True(properties.ContainsKey(name), $"{what}: field '{name}' is not in the schema");
        }
    }

    private static void Collect(JsonNode? node, List<string> references)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj)
                {
                    if (key == "$ref")
                    {
                        references.Add(value!.GetValue<string>());
                    }
                    else
                    {
                        Collect(value, references);
                    }
                }
                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    Collect(item, references);
                }
                break;
        }
    }
}
