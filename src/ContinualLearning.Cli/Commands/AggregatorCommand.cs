using System.CommandLine;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Configuration;
using ContinualLearning.Fleet.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Cli.Commands;

/// <summary>
/// `cl aggregator run`: the central service under the Generic Host (Ctrl+C / SIGTERM stop it). Its options come from
/// <c>--config</c> (default <see cref="AggregatorOptionsReader.DefaultConfigPath"/> when it exists), then
/// <c>CL_AGGREGATOR_*</c> variables, then the flags below (docs/aggregator.md).
/// </summary>
internal static class AggregatorCommand
{
    public static Command Build()
    {
        var aggregator = new Command("aggregator", "The central aggregation service.");
        var config = new Option<string?>("--config") { Description = $"Aggregator JSON config (default {AggregatorOptionsReader.DefaultConfigPath} when it exists; docs/aggregator.md)." };
        var fleet = new Option<string?>("--fleet") { Description = "Fleet name (fleet)." };
        var model = new Option<string?>("--model") { Description = "Model this instance aggregates (modelName)." };
        var registry = new Option<string?>("--registry") { Description = "Registry directory (registryPath); with --registry-connection, this host's working directory." };
        var registryConnection = new Option<string?>("--registry-connection")
        {
            Description = "PostgreSQL connection string of a registry shared by aggregators on several hosts (registry:connectionString); the password from PGPASSWORD or a passfile rather than the command line.",
        };
        var key = new Option<string?>("--key") { Description = "Fleet release private key, PEM (privateKeyPath)." };
        var broker = new Option<string?>("--broker") { Description = "MQTT broker host:port (brokerHost, brokerPort)." };
        var instance = new Option<string?>("--instance-id") { Description = "MQTT client id of this instance (instanceId)." };
        var metricsListen = new Option<string?>("--metrics-listen") { Description = "Serve /metrics and /health on address:port, e.g. 127.0.0.1:9464 (metrics:listen)." };
        var consoleListen = new Option<string?>("--console")
        {
            Description = $"Serve the fleet console on address:port (console:listen; default {ContinualLearning.Aggregator.Console.ConsoleOptions.DefaultListen} when the flag has no value); docs/console.md.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var run = new Command("run", "Run the aggregator until stopped.") { config, fleet, model, registry, registryConnection, key, broker, instance, metricsListen, consoleListen };
        run.SetAction((pr, ct) => CliCommon.Guard(async () =>
        {
            var flags = new ConfigurationFlags()
                .Set("fleet", fleet.Name, pr.GetValue(fleet))
                .Set("modelName", model.Name, pr.GetValue(model))
                .Set("registryPath", registry.Name, pr.GetValue(registry))
                .Set("registry:connectionString", registryConnection.Name, pr.GetValue(registryConnection))
                .Set("privateKeyPath", key.Name, pr.GetValue(key))
                .Set("instanceId", instance.Name, pr.GetValue(instance))
                .Set("metrics:listen", metricsListen.Name, pr.GetValue(metricsListen))
                .Set("console:listen", consoleListen.Name, pr.GetResult(consoleListen) is null ? null : pr.GetValue(consoleListen) ?? ContinualLearning.Aggregator.Console.ConsoleOptions.DefaultListen);
            if (pr.GetValue(broker) is { } address) SetBroker(flags, broker.Name, address);
            var options = AggregatorOptionsReader.Read(AggregatorOptionsReader.Build(pr.GetValue(config), flags));
            var builder = Host.CreateApplicationBuilder();
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            });
            builder.Services.AddValidatedOptions(options, AggregatorOptionsReader.Validator);
            builder.Services.AddHostedService<AggregatorHostedService>();
            using var host = builder.Build();
            await host.RunAsync(ct);
            return 0;
        }));
        aggregator.Subcommands.Add(run);
        return aggregator;
    }

    /// <summary>One flag for two keys: the configuration keeps brokerHost and brokerPort apart, the command line takes host:port like every other command.</summary>
    internal static void SetBroker(ConfigurationFlags flags, string flag, string address)
    {
        if (!ConfigurationReader.TryParseHostPort(address, 1883, out var host, out var port))
            throw new ConfigurationException("aggregator", [new ConfigurationError("brokerHost", address, "is not host:port", "use e.g. broker.local:1883 or 10.0.0.5:8883") { Source = flag }]);
        flags.Set("brokerHost", flag, host).Set("brokerPort", flag, port.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
