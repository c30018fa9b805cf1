using System.CommandLine;
using ContinualLearning.Aggregator.Console;

namespace ContinualLearning.Cli.Commands;

/// <summary>`cl console token add`: operator tokens of the aggregator's fleet console (docs/console.md, "Credentials").</summary>
internal static class ConsoleCommand
{
    public static Command Build()
    {
        var console = new Command("console", "The aggregator's fleet console.");
        var token = new Command("token", "Operator tokens (console:operatorTokenFile).");
        var name = new Argument<string>("name") { Description = "The operator's name, as the audit trail records it (letters, digits, . _ -)." };
        var file = new Option<string>("--file") { Description = "The token file (console:operatorTokenFile); created when missing.", Required = true };
        var add = new Command("add", "Make a new token for <name>: its SHA-256 is appended to the file, the token itself is printed once and stored nowhere.") { name, file };
        add.SetAction((pr, ct) => CliCommon.Guard(async () =>
        {
            var who = pr.GetValue(name)!;
            if (who.Length is 0 or > 64 || !who.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
                throw new CliException($"operator name '{ContinualLearning.Text.DisplayText.Truncate(who, 64)}' must be 1–64 letters, digits, '.', '_' or '-'.");
            var path = pr.GetValue(file)!;
            if (File.Exists(path))
            {
                var existing = OperatorAuth.Parse(path, await File.ReadAllLinesAsync(path, ct));
                if (existing.Any(e => e.Name == who))
                    throw new CliException($"'{who}' already has a token in {path}; remove its line to revoke it, then add it again.");
            }
            var secret = OperatorAuth.NewToken();
            var created = !File.Exists(path);
            await File.AppendAllTextAsync(path, $"{who}:{OperatorAuth.Hash(secret)}\n", ct);
            if (created && !OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            await Console.Error.WriteLineAsync($"added operator '{who}' to {Path.GetFullPath(path)}; the token (shown once, send it as 'Authorization: Bearer <token>'):");
            Console.WriteLine(secret);
            return 0;
        }));
        token.Subcommands.Add(add);
        console.Subcommands.Add(token);
        return console;
    }
}
