using System.CommandLine;
using MissionHub.Client;

namespace MissionHub.Cli;

/// <summary><c>missionhub keys create|list|revoke</c>: API keys (admin). The first key created ends protected mode.</summary>
internal static class KeysCommand
{
    public static Command Create(GlobalOptions globals, TextWriter output, TextWriter error)
    {
        var keys = new Command("keys", "API keys: create (the secret is shown once), list, revoke");

        var create = new Command("create", "Create a key; the first one ends protected mode, so keep an admin key");
        var name = new Option<string>("--name") { Description = "unique, 1 to 64 letters, digits, '-', '_', '.' or '@', e.g. ci-deploy", Required = true };
        var roles = new Option<string[]>("--role") { Description = "viewer, operator, admin, worker or robot; repeat for several", Required = true, AllowMultipleArgumentsPerToken = true };
        roles.AcceptOnlyFromAmong([.. KeyRoles.All]);
        var pattern = new Option<string?>("--id-pattern") { Description = "for worker and robot keys: the ids they may use, e.g. 'render-*'" };
        var expiresInDays = new Option<double?>("--expires-in-days") { Description = "the key stops working after this many days (default: never)" };
        expiresInDays.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double?>() is <= 0)
            {
                result.AddError("--expires-in-days must be more than 0");
            }
        });
        foreach (var option in new Option[] { name, roles, pattern, expiresInDays })
        {
            create.Options.Add(option);
        }
        create.SetAction(async (parsed, cancellationToken) =>
        {
            using var hub = globals.Connect(parsed);
            double? expiresAt = parsed.GetValue(expiresInDays) is { } days ? DateTimeOffset.UtcNow.AddDays(days).ToUnixTimeSeconds() : null;
            var key = await hub.Keys.CreateAsync(new NewApiKey(parsed.GetValue(name)!, parsed.GetValue(roles)!, parsed.GetValue(pattern), expiresAt), cancellationToken);
            var render = new Render(output);
            if (globals.Json(parsed))
            {
                await render.JsonAsync(key, CliJsonContext.Default.CreatedApiKey);
                return ExitCodes.Ok;
            }
            render.Properties(
            [
                ("id", key.Id), ("name", key.Name), ("roles", string.Join(",", key.Roles)), ("id pattern", key.IdPattern),
                ("expires", Render.Time(key.ExpiresAt)), ("created", Render.Time(key.CreatedAt)), ("secret", key.Secret),
            ]);
            await error.WriteLineAsync("missionhub: the secret is shown only now; the hub keeps only a hash of it");
            return ExitCodes.Ok;
        });

        var list = new Command("list", "Every key (never a secret)");
        list.SetAction(async (parsed, cancellationToken) =>
        {
            using var hub = globals.Connect(parsed);
            var all = await hub.Keys.ListAsync(cancellationToken);
            var render = new Render(output);
            if (globals.Json(parsed))
            {
                await render.JsonAsync(all.ToList(), CliJsonContext.Default.ListApiKeyInfo);
                return ExitCodes.Ok;
            }
            render.Table(["id", "name", "roles", "id pattern", "expires", "created", "source"],
                all.Select(k => new[] { k.Id, k.Name, string.Join(",", k.Roles), k.IdPattern, Render.Time(k.ExpiresAt), Render.Time(k.CreatedAt), k.Source }));
            return ExitCodes.Ok;
        });

        var revoke = new Command("revoke", "Revoke a key: it stops working at once, its sockets and streams are closed");
        var id = new Argument<string>("id") { Description = "the key's id (from 'keys list')" };
        revoke.Arguments.Add(id);
        revoke.SetAction(async (parsed, cancellationToken) =>
        {
            using var hub = globals.Connect(parsed);
            var keyId = parsed.GetValue(id)!;
            await hub.Keys.RevokeAsync(keyId, cancellationToken);
            await new Render(output).JsonOrLineAsync(globals.Json(parsed), new Removed(keyId, true), CliJsonContext.Default.Removed, $"revoked key {keyId}");
            return ExitCodes.Ok;
        });

        keys.Subcommands.Add(create);
        keys.Subcommands.Add(list);
        keys.Subcommands.Add(revoke);
        return keys;
    }
}
