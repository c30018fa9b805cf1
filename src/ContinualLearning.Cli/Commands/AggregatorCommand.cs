using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using ContinualLearning.Aggregator;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Cli.Commands;

/// <summary>`cl aggregator run --config aggregator.json`: the central service under the Generic Host (Ctrl+C / SIGTERM stop it).</summary>
internal static class AggregatorCommand
{
    /// <summary>How the config file is read: camelCase or PascalCase keys, kebab-case enums ("trimmed-mean"), TimeSpans as "00:01:00".</summary>
    public static readonly JsonSerializerOptions ConfigJson = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    public static Command Build()
    {
        var aggregator = new Command("aggregator", "The central aggregation service.");
        var config = new Option<string>("--config") { Description = "Aggregator JSON config (docs/aggregator.md).", Required = true };
        var run = new Command("run", "Run the aggregator until stopped.") { config };
        run.SetAction((pr, ct) => CliCommon.Guard(async () =>
        {
            var options = Load(pr.GetValue(config)!);
            var builder = Host.CreateApplicationBuilder();
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            });
            builder.Services.AddSingleton(options);
            builder.Services.AddHostedService<AggregatorHostedService>();
            using var host = builder.Build();
            await host.RunAsync(ct);
            return 0;
        }));
        aggregator.Subcommands.Add(run);
        return aggregator;
    }

    public static AggregatorOptions Load(string path)
    {
        if (!File.Exists(path))
            throw new CliException($"Config file '{Path.GetFullPath(path)}' not found; see docs/aggregator.md for an example.");
        AggregatorOptions? options;
        try
        {
            options = JsonSerializer.Deserialize<AggregatorOptions>(File.ReadAllText(path), ConfigJson);
        }
        catch (JsonException ex)
        {
            throw new CliException($"Config file '{path}' is invalid at {ex.Path} (line {ex.LineNumber + 1}): {ex.Message}");
        }
        catch (NotSupportedException ex)
        {
            throw new CliException($"Config file '{path}': {ex.Message}");
        }
        if (options is null) throw new CliException($"Config file '{path}' is JSON null.");
        // Relative paths are relative to the config file, so a config directory can be moved as a whole.
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        options = options with
        {
            RegistryPath = Path.GetFullPath(options.RegistryPath, dir),
            PrivateKeyPath = Path.GetFullPath(options.PrivateKeyPath, dir),
            Holdout = options.Holdout?.CsvPath is { } csv ? options.Holdout with { CsvPath = Path.GetFullPath(csv, dir) } : options.Holdout,
        };
        options.Validate();
        return options;
    }
}
