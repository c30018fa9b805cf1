using System.CommandLine;
using ContinualLearning.Fleet.Identity;

namespace ContinualLearning.Cli.Commands;

/// <summary>`cl broker config`: a Mosquitto configuration, ACL and broker certificate for a fleet (docs/protocol.md, "Access control").</summary>
internal static class BrokerCommand
{
    public static Command Build()
    {
        var caDir = FleetIdentityCommand.CaOption();
        var output = new Option<string>("--out") { Description = "Directory for mosquitto.conf, fleet.acl, broker.crt, broker.key and ca.crt.", Required = true };
        var fleet = new Option<string?>("--fleet") { Description = "Fleet name (default: the fleet the CA was made for)." };
        var aggregators = new Option<string[]>("--aggregator") { Description = "Aggregator name with aggregator rights (repeat for several).", AllowMultipleArgumentsPerToken = true };
        var operators = new Option<string[]>("--operator") { Description = "Operator name with operator rights (repeat for several).", AllowMultipleArgumentsPerToken = true };
        var port = new Option<int>("--port") { Description = "TLS listener port.", DefaultValueFactory = _ => 8883 };
        var hosts = new Option<string[]>("--host")
        {
            Description = "Host name or IP address clients use to reach the broker, for its certificate (repeat; default localhost and 127.0.0.1).",
            AllowMultipleArgumentsPerToken = true,
        };
        var bind = new Option<string?>("--bind") { Description = "Address the listener binds to (default: all)." };
        var force = new Option<bool>("--force") { Description = "Replace existing files." };
        var config = new Command("config", "Write a Mosquitto 2 configuration: TLS with client certificates, no anonymous access, the fleet ACL, message size limits.")
        {
            caDir, output, fleet, aggregators, operators, port, hosts, bind, force,
        };
        config.SetAction((pr, ct) => CliCommon.Guard(() =>
        {
            using var ca = FleetCertificateAuthority.Load(pr.GetValue(caDir)!);
            var f = pr.GetValue(fleet) ?? ca.Fleet;
            var aggregatorNames = pr.GetValue(aggregators) ?? [];
            var operatorNames = pr.GetValue(operators) ?? [];
            var acl = new FleetAcl(f, aggregatorNames, operatorNames);
            var hostNames = pr.GetValue(hosts) is { Length: > 0 } h ? h : ["localhost", "127.0.0.1"];
            var files = MosquittoBrokerConfig.Write(ca, acl, pr.GetValue(output)!, pr.GetValue(port), hostNames, bindAddress: pr.GetValue(bind), overwrite: pr.GetValue(force));
            Console.WriteLine($"mosquitto config: {files.ConfigFile} (run: mosquitto -c {files.ConfigFile})");
            Console.WriteLine($"ACL:              {files.AclFile}");
            Console.WriteLine($"broker cert:      {files.Credentials.CertificateFile} for {string.Join(", ", hostNames)}; key {files.Credentials.KeyFile} (0600)");
            if (aggregatorNames.Length == 0)
                Console.Error.WriteLine("warning: no --aggregator given: no client may publish releases or read deltas.");
            if (operatorNames.Length == 0)
                Console.Error.WriteLine("warning: no --operator given: no client may send commands except aggregators.");
            return Task.FromResult(0);
        }));
        var broker = new Command("broker", "The fleet's MQTT broker (Mosquitto).");
        broker.Subcommands.Add(config);
        return broker;
    }
}
