using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace MissionHub.Bench;

/// <summary>
/// <c>auth</c>: what authentication costs per request. <c>GET /api/missions/{id}</c> and <c>POST /api/jobs</c>
/// requests/s with no credential (protected mode, one server) against an API key and a JWT (a second server with
/// keys and JWT configured), interleaved cell by cell over several rounds so drift hits every mode alike. Both
/// servers run with the per-credential rate limit off, so the figures are the cost of authenticating and
/// authorizing, not of being throttled.
/// </summary>
internal static class AuthBenchmark
{
    public const string Usage = "[--clients 16] [--seconds 3] [--rounds 5]";

    private const string Key = "mh_bench-operator-key-000000000000000000000000";
    private const string Issuer = "https://issuer.bench";
    private const string Audience = "missionhub-bench";
    private static readonly string[] OperatorRoles = ["operator"];

    public static async Task<int> RunAsync(string[] args)
    {
        var options = BenchArgs.Parse(args, new() { ["clients"] = "16", ["seconds"] = "3", ["rounds"] = "5" });
        var clients = options.Int("clients");
        var duration = TimeSpan.FromSeconds(options.Int("seconds"));
        var rounds = options.Int("rounds");
        Console.Error.WriteLine($"auth: {clients} clients, {duration.TotalSeconds} s per cell, {rounds} rounds, {Environment.ProcessorCount} cores");

        using var rsa = RSA.Create(2048);
        var keyFolder = Directory.CreateTempSubdirectory("missionhub-bench-jwt-").FullName;
        var pem = Path.Combine(keyFolder, "public.pem");
        await File.WriteAllTextAsync(pem, rsa.ExportSubjectPublicKeyInfoPem());
        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            Claims = new Dictionary<string, object> { ["sub"] = "bench-user", ["roles"] = OperatorRoles },
            Expires = DateTime.UtcNow.AddHours(2),
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(rsa), SecurityAlgorithms.RsaSha256),
        });

        await using var open = await HubServer.StartAsync("sqlite", null, new Dictionary<string, string>
        {
            ["MissionHub__Auth__LoopbackRequestsPerSecond"] = "0",
        });
        await using var secured = await HubServer.StartAsync("sqlite", null, new Dictionary<string, string>
        {
            ["MissionHub__Auth__Keys__0__Name"] = "bench-operator",
            ["MissionHub__Auth__Keys__0__Roles__0"] = "operator",
            ["MissionHub__Auth__Keys__0__Secret"] = Key,
            ["MissionHub__Auth__Jwt__Issuer"] = Issuer,
            ["MissionHub__Auth__Jwt__Audience"] = Audience,
            ["MissionHub__Auth__Jwt__SigningKeysFile"] = pem,
            ["MissionHub__Auth__RequestsPerSecond"] = "0",
        });

        var modes = new (string Name, HubServer Server, string? Credential)[]
        {
            ("protected mode (no credential)", open, null),
            ("API key", secured, Key),
            ("JWT (RS256)", secured, token),
        };
        var http = modes.Select(m => Client(m.Server, m.Credential)).ToArray();
        var missionPaths = new string[modes.Length];
        for (var i = 0; i < modes.Length; i++)
        {
            missionPaths[i] = await SeedMissionAsync(http[i], $"bench-{i}");
        }

        var operations = new (string Name, Func<HttpClient, int, Task> Send)[]
        {
            ("GET /api/missions/{id}", (client, mode) => GetAsync(client, missionPaths[mode])),
            ("POST /api/jobs", (client, _) => PostJobAsync(client)),
        };

        // Warm-up: every cell once, briefly.
        foreach (var (_, send) in operations)
        {
            for (var m = 0; m < modes.Length; m++)
            {
                await LoadAsync(http[m], m, send, clients, TimeSpan.FromSeconds(1));
            }
        }

        var results = new Dictionary<(int Op, int Mode), List<double>>();
        var cpu = new Dictionary<(int Op, int Mode), List<double>>();
        for (var round = 0; round < rounds; round++)
        {
            for (var o = 0; o < operations.Length; o++)
            {
                // Rotate the order each round, so no mode always runs first (or right after a POST burst).
                for (var k = 0; k < modes.Length; k++)
                {
                    var m = (k + round) % modes.Length;
                    var cpuBefore = modes[m].Server.ProcessorTime;
                    var (rate, requests) = await LoadAsync(http[m], m, operations[o].Send, clients, duration);
                    // Server CPU per request: what each request costs the server, which the load of other processes
                    // on a shared machine disturbs far less than the rate does.
                    var cpuPerRequest = (modes[m].Server.ProcessorTime - cpuBefore).TotalMicroseconds / requests;
                    (results.TryGetValue((o, m), out var list) ? list : results[(o, m)] = []).Add(rate);
                    (cpu.TryGetValue((o, m), out var cpuList) ? cpuList : cpu[(o, m)] = []).Add(cpuPerRequest);
                    Console.Error.WriteLine($"  round {round + 1}: {operations[o].Name,-24} {modes[m].Name,-32} {rate,10:N0} req/s {cpuPerRequest,8:N1} µs server CPU/req");
                }
            }
        }

        Console.WriteLine("| operation | mode | req/s per round | median req/s | vs protected mode | median server CPU µs/req | req/s that CPU allows, vs protected mode |");
        Console.WriteLine("| --- | --- | --- | ---: | ---: | ---: | ---: |");
        for (var o = 0; o < operations.Length; o++)
        {
            var baseline = Median(results[(o, 0)]);
            var baselineCpu = Median(cpu[(o, 0)]);
            for (var m = 0; m < modes.Length; m++)
            {
                var rates = results[(o, m)];
                var median = Median(rates);
                var medianCpu = Median(cpu[(o, m)]);
                var delta = m == 0 ? "—" : ((median / baseline) - 1).ToString("+0.0%;-0.0%", CultureInfo.InvariantCulture);
                var cpuDelta = m == 0 ? "—" : ((baselineCpu / medianCpu) - 1).ToString("+0.0%;-0.0%", CultureInfo.InvariantCulture);
                Console.WriteLine($"| {operations[o].Name} | {modes[m].Name} | {string.Join(" · ", rates.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))} | {median:N0} | {delta} | {medianCpu:N1} | {cpuDelta} |");
            }
        }
        foreach (var client in http)
        {
            client.Dispose();
        }
        Directory.Delete(keyFolder, recursive: true);
        return 0;
    }

    private static HttpClient Client(HubServer server, string? credential)
    {
        var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 }) { BaseAddress = server.BaseAddress };
        if (credential is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        }
        return client;
    }

    private static async Task<string> SeedMissionAsync(HttpClient client, string id)
    {
        using var content = new StringContent($$"""{"id":"{{id}}","name":"bench mission"}""", Encoding.UTF8, "application/json");
        using var response = await client.PostAsync(new Uri("/api/missions", UriKind.Relative), content);
        if (!response.IsSuccessStatusCode && (int)response.StatusCode != 409)
        {
            throw new InvalidOperationException($"could not seed the mission: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
        return $"/api/missions/{id}";
    }

    private static async Task GetAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative), HttpCompletionOption.ResponseContentRead);
        Check(response);
    }

    private static readonly byte[] JobBody = """{"job_type":"bench-auth","priority":1,"payload":{"n":1}}"""u8.ToArray();

    private static async Task PostJobAsync(HttpClient client)
    {
        using var content = new ByteArrayContent(JobBody);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await client.PostAsync(new Uri("/api/jobs", UriKind.Relative), content);
        Check(response);
    }

    private static void Check(HttpResponseMessage response)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}");
        }
    }

    /// <summary>Closed loop: each client keeps one request in flight until the time is up; requests per second.</summary>
    private static async Task<(double Rate, long Requests)> LoadAsync(HttpClient client, int mode, Func<HttpClient, int, Task> send, int clients, TimeSpan duration)
    {
        var timer = Stopwatch.StartNew();
        var counts = await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            long n = 0;
            while (timer.Elapsed < duration)
            {
                await send(client, mode);
                n++;
            }
            return n;
        })));
        return (counts.Sum() / timer.Elapsed.TotalSeconds, counts.Sum());
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
