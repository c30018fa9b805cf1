using System.CommandLine;
using ContinualLearning.Fleet.Signing;

namespace ContinualLearning.Cli.Commands;

/// <summary>`cl keys new --out DIR`: the fleet's release-signing key pair.</summary>
internal static class KeysCommand
{
    public static Command Build()
    {
        var keys = new Command("keys", "Fleet release-signing keys (ECDSA P-256).");
        var create = new Command("new", "Generate a key pair: release.key (private, 0600; aggregator only) and release.pub (ship to devices).");
        var output = new Option<string>("--out") { Description = "Directory to write release.key and release.pub into.", Required = true };
        var force = new Option<bool>("--force") { Description = "Overwrite existing key files." };
        create.Options.Add(output);
        create.Options.Add(force);
        create.SetAction((pr, ct) => CliCommon.Guard(() =>
        {
            var dir = pr.GetValue(output)!;
            Directory.CreateDirectory(dir);
            var priv = Path.Combine(dir, "release.key");
            var pub = Path.Combine(dir, "release.pub");
            if (!pr.GetValue(force) && (File.Exists(priv) || File.Exists(pub)))
                throw new CliException($"'{priv}' or '{pub}' already exists; replacing the fleet key would make devices refuse new releases. Pass --force if you mean it.");
            using var key = ReleaseKeys.Generate();
            ReleaseKeys.Save(key, priv, pub);
            Console.WriteLine($"key id {ReleaseKeys.KeyId(key)}\nprivate: {Path.GetFullPath(priv)}\npublic:  {Path.GetFullPath(pub)}");
            return Task.FromResult(0);
        }));
        keys.Subcommands.Add(create);
        return keys;
    }
}
