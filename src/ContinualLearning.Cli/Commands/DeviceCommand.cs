using System.CommandLine;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Device.Hosting;
using ContinualLearning.Torch;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;

namespace ContinualLearning.Cli.Commands;

/// <summary>`cl device run`: the device daemon (see docs/device.md).</summary>
internal static class DeviceCommand
{
    public static Command Build()
    {
        var device = new Command("device", "The device daemon: serve predictions, learn locally, exchange deltas and releases with the fleet.");
        var run = new Command("run", "Run the daemon in the foreground (systemd: Type=notify).");
        var config = new Option<string?>("--config") { Description = $"JSON config file (default {DeviceOptions.DefaultConfigPath} when it exists)." };
        var broker = new Option<string?>("--broker") { Description = "MQTT broker host:port." };
        var id = new Option<string?>("--id") { Description = "Device id." };
        var fleet = new Option<string?>("--fleet") { Description = "Fleet name." };
        var model = new Option<string?>("--model") { Description = "Model name whose releases to install." };
        var bundle = new Option<string?>("--bundle") { Description = "Bundle directory installed when the model store is empty." };
        var dataDir = new Option<string?>("--data-dir") { Description = "Persistent state directory." };
        var key = new Option<string?>("--fleet-key") { Description = "Fleet release public key (PEM)." };
        var engine = new Option<string?>("--engine") { Description = "auto | managed | torch." };
        var httpPort = new Option<int?>("--http-port") { Description = "Loopback HTTP port (0 = any free port)." };
        var cohort = new Option<string?>("--cohort") { Description = "Rollout cohort (all, canary, ...)." };
        var json = new Option<bool>("--log-json") { Description = "Log one JSON object per line." };
        foreach (var o in new Option[] { config, broker, id, fleet, model, bundle, dataDir, key, engine, httpPort, cohort, json })
            run.Options.Add(o);
        run.SetAction(async (parse, cancellationToken) =>
        {
            var overrides = new Dictionary<string, string?>(StringComparer.Ordinal);
            void Set(string configKey, string? value)
            {
                if (value is not null) overrides[configKey] = value;
            }
            Set("broker", parse.GetValue(broker));
            Set("deviceId", parse.GetValue(id));
            Set("fleet", parse.GetValue(fleet));
            Set("modelName", parse.GetValue(model));
            Set("bundle", parse.GetValue(bundle));
            Set("dataDirectory", parse.GetValue(dataDir));
            Set("fleetPublicKey", parse.GetValue(key));
            Set("engine", parse.GetValue(engine));
            Set("http:port", parse.GetValue(httpPort)?.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Set("cohort", parse.GetValue(cohort));
            if (parse.GetValue(json)) overrides["logging:format"] = "json";
            DeviceOptions options;
            try
            {
                options = DeviceOptionsReader.Read(DeviceOptionsReader.Build(parse.GetValue(config), overrides));
            }
            catch (DeviceConfigurationException ex)
            {
                await Console.Error.WriteLineAsync(ex.Message);
                return 2;
            }
            // The Device assembly cannot reference TorchSharp (no linux-arm64 natives): offer it from here when libtorch loads.
            // Probing loads libtorch (~100 MB resident), so only when the config may use it.
            var torch = options.Engine == EngineChoice.Managed
                ? new TorchEngineProvider(null, "engine = managed in the configuration")
                : TorchEngine.IsAvailable
                    ? new TorchEngineProvider(() => new TorchEngine())
                    : new TorchEngineProvider(null, TorchEngine.UnavailableReason);
            try
            {
                await using var app = DeviceHost.Build(options, torch);
                await app.StartAsync(cancellationToken);
                await app.WaitForShutdownAsync(cancellationToken);
                return 0;
            }
            catch (DeviceConfigurationException ex)
            {
                await Console.Error.WriteLineAsync(ex.Message);
                return 2;
            }
        });
        device.Subcommands.Add(run);
        return device;
    }
}
