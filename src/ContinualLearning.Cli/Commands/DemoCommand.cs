using System.CommandLine;
using ContinualLearning.Cli.Demo;

namespace ContinualLearning.Cli.Commands;

/// <summary>`cl demo`: the whole continual-learning loop on one machine (broker, aggregator, simulated devices).</summary>
internal static class DemoCommand
{
    public static Command Build()
    {
        var devices = new Option<int?>("--devices") { Description = "Number of simulated devices (default 8)." };
        var samples = new Option<int?>("--samples") { Description = "Labelled samples per device (default 3000; --quick 1600)." };
        var duration = new Option<double?>("--duration") { Description = "Seconds over which each device's stream is paced (default 50; --quick 16; 0 = as fast as possible)." };
        var seed = new Option<int>("--seed") { Description = "Random seed for data, models and drift points.", DefaultValueFactory = _ => 42 };
        var broker = new Option<string?>("--broker") { Description = "Use an external MQTT 5 broker host:port (e.g. Mosquitto) instead of the embedded one." };
        var fleet = new Option<string>("--fleet") { Description = "Fleet name in the MQTT topics (cl/{fleet}/...).", DefaultValueFactory = _ => "demo" };
        var quick = new Option<bool>("--quick") { Description = "Short run (about 20-30 s), as used by the CI smoke test." };
        var poison = new Option<int>("--poison") { Description = "Make K devices send sign-flipped, amplified deltas (robust aggregation and canary rollback at work).", DefaultValueFactory = _ => 0 };
        var output = new Option<string?>("--out") { Description = "Directory to write summary.json and summary.md into." };
        var keep = new Option<bool>("--keep") { Description = "Keep the temp state directory (bundles, registry, keys) and print its path." };
        var insecure = new Option<bool>("--insecure") { Description = "Plain TCP, no client certificates, no ACL (debugging only; also for an anonymous --broker). Default: mutual TLS with a certificate per client and the fleet ACL." };
        var ca = new Option<string?>("--ca") { Description = "Fleet CA directory (ca.crt, ca.key from `cl fleet ca new`) to issue the demo's certificates from; needed with --broker unless --insecure." };
        var scenario = new Option<string>("--scenario")
        {
            Description = "sea (default): drifting SEA streams, a tabular head. groups: two groups on SEA, half the fleet drifts to another concept and half stays, so one global model serves neither well (try it with and without --clusters). keywords: spoken keywords as raw audio through the speech pipeline; each device hears its own voice family and the fleet release is scored on voices no device trained on (a few minutes).",
            DefaultValueFactory = _ => "sea",
        };
        var console = new Option<string?>("--console")
        {
            Description = $"Serve the fleet console on host:port (default {ContinualLearning.Aggregator.Console.ConsoleOptions.DefaultListen}) and keep the fleet running after the scenario until Ctrl+C; prints the URL and an operator token.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var clusters = new Option<bool>("--clusters") { Description = "Concept-aware aggregation: the aggregator keeps one model per cluster of devices and every device follows the signed cluster directory; the summary scores each device's served model on its own concept." };
        var plain = new Option<bool>("--plain") { Description = "Plain line output even in a terminal (automatic when stdout is redirected)." };

        var command = new Command("demo", "Run the whole loop on one machine: MQTT broker (mutual TLS, fleet ACL), aggregator and simulated devices on drifting data, then compare every global version with the no-update baseline.")
        {
            devices, samples, duration, seed, broker, fleet, quick, poison, output, keep, insecure, ca, plain, scenario, console, clusters,
        };
        command.SetAction(async (pr, ct) =>
        {
            DemoOptions options;
            try
            {
                var preset = Preset(pr.GetValue(scenario)!, pr.GetValue(quick));
                options = preset with
                {
                    Devices = pr.GetValue(devices) ?? preset.Devices,
                    SamplesPerDevice = pr.GetValue(samples) ?? preset.SamplesPerDevice,
                    Duration = pr.GetValue(duration) is { } seconds ? TimeSpan.FromSeconds(seconds) : preset.Duration,
                    Seed = pr.GetValue(seed),
                    Broker = pr.GetValue(broker) is { } b ? DemoOptions.ParseBroker(b) : null,
                    Fleet = pr.GetValue(fleet)!,
                    Poison = pr.GetValue(poison),
                    OutDirectory = pr.GetValue(output),
                    Keep = pr.GetValue(keep),
                    Insecure = pr.GetValue(insecure),
                    CaDirectory = pr.GetValue(ca),
                    Clusters = pr.GetValue(clusters),
                    Console = pr.GetResult(console) is null ? null : pr.GetValue(console) ?? ContinualLearning.Aggregator.Console.ConsoleOptions.DefaultListen,
                };
                options.Validate();
            }
            catch (ArgumentException ex)
            {
                Console.Error.WriteLine($"error: {ex.Message}");
                return 2;
            }
            var ui = pr.GetValue(plain) || Console.IsOutputRedirected || !Spectre.Console.AnsiConsole.Profile.Capabilities.Interactive
                ? DemoUi.Plain
                : DemoUi.Live;
            try
            {
                await DemoRunner.RunAsync(options, ui, ct);
                return 0;
            }
            catch (DemoBrokerException ex)
            {
                Console.Error.WriteLine($"error: {ex.Message}");
                return 3;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                Console.Error.WriteLine("demo cancelled.");
                return 130;
            }
        });
        return command;
    }

    private static DemoOptions Preset(string scenario, bool quick) => scenario.ToLowerInvariant() switch
    {
        "sea" => quick ? DemoOptions.Quick : DemoOptions.Default,
        "keywords" when quick => throw new ArgumentException("--quick is the SEA smoke run; --scenario keywords has one preset (a few minutes). Give --samples or --duration to shorten it."),
        "keywords" => DemoOptions.Keywords,
        "groups" => (quick ? DemoOptions.Quick : DemoOptions.Default) with { Scenario = DemoScenarioKind.Groups },
        _ => throw new ArgumentException($"--scenario '{ContinualLearning.Text.DisplayText.Truncate(scenario, 40)}' is unknown: use sea, groups or keywords."),
    };
}
