using System.CommandLine;
using System.Globalization;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Fleet.Configuration;
using Microsoft.Extensions.Hosting;

namespace ContinualLearning.Device.Hosting;

/// <summary>
/// The daemon's <c>run</c> command, shared by <c>cl-device run</c> (the native-AOT binary the device packages ship)
/// and <c>cl device run</c> (the all-in-one <c>cl</c>, which can also offer the torch engine).
/// Flags override <c>CL_DEVICE_*</c> variables, which override the config file (docs/device.md).
/// </summary>
public static class DeviceRunCommand
{
    /// <summary>Builds <c>run</c>. <paramref name="torch"/> says, for the resolved options, whether a torch engine is on offer.</summary>
    public static Command Create(Func<DeviceOptions, TorchEngineProvider> torch)
    {
        ArgumentNullException.ThrowIfNull(torch);
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
        var operatorKey = new Option<string?>("--operator-key") { Description = "Operator public key(s) (PEM, comma-separated) whose signed commands the device runs." };
        foreach (var o in new Option[] { config, broker, id, fleet, model, bundle, dataDir, key, engine, httpPort, cohort, json, operatorKey })
            run.Options.Add(o);
        run.SetAction(async (parse, cancellationToken) =>
        {
            var flags = new ConfigurationFlags()
                .Set("broker", broker.Name, parse.GetValue(broker))
                .Set("deviceId", id.Name, parse.GetValue(id))
                .Set("fleet", fleet.Name, parse.GetValue(fleet))
                .Set("modelName", model.Name, parse.GetValue(model))
                .Set("bundle", bundle.Name, parse.GetValue(bundle))
                .Set("dataDirectory", dataDir.Name, parse.GetValue(dataDir))
                .Set("fleetPublicKey", key.Name, parse.GetValue(key))
                .Set("engine", engine.Name, parse.GetValue(engine))
                .Set("http:port", httpPort.Name, parse.GetValue(httpPort)?.ToString(CultureInfo.InvariantCulture))
                .Set("cohort", cohort.Name, parse.GetValue(cohort))
                .Set("logging:format", json.Name, parse.GetValue(json) ? "json" : null)
                .Set("commands:operatorKeys", operatorKey.Name, parse.GetValue(operatorKey));
            try
            {
                var options = DeviceOptionsReader.Read(DeviceOptionsReader.Build(parse.GetValue(config), flags));
                var app = DeviceHost.Build(options, torch(options));
                await using (app.ConfigureAwait(false))
                {
                    await app.StartAsync(cancellationToken).ConfigureAwait(false);
                    await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
                }
                return 0;
            }
            catch (ConfigurationException ex)
            {
                await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
                return 2;
            }
        });
        return run;
    }
}
