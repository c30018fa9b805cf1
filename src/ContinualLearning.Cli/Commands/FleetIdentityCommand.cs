using System.CommandLine;
using System.Globalization;
using ContinualLearning.Fleet.Identity;

namespace ContinualLearning.Cli.Commands;

/// <summary>
/// The fleet's identities (docs/protocol.md, "Identities"): `cl fleet ca new` makes the fleet CA, `cl device provision ID`
/// a device certificate, `cl fleet cert aggregator|operator|broker NAME` the others. Each writes a certificate, its
/// private key (0600) and the CA certificate into --out.
/// </summary>
internal static class FleetIdentityCommand
{
    /// <summary>Adds `ca new` and `cert` to the `cl fleet` group.</summary>
    public static void AddTo(Command fleet)
    {
        ArgumentNullException.ThrowIfNull(fleet);
        fleet.Subcommands.Add(Ca());
        fleet.Subcommands.Add(Cert());
    }

    private static Command Ca()
    {
        var output = new Option<string>("--out") { Description = "Directory to write ca.crt and ca.key (0600) into; keep ca.key offline.", Required = true };
        var fleet = CliCommon.FleetOption();
        var years = new Option<int>("--years") { Description = "Validity of the CA in years.", DefaultValueFactory = _ => 10 };
        var force = new Option<bool>("--force") { Description = "Replace an existing CA (every certificate it issued stops working)." };
        var create = new Command("new", "Make the fleet's certificate authority.") { output, fleet, years, force };
        create.SetAction((pr, ct) => CliCommon.Guard(() =>
        {
            using var ca = FleetCertificateAuthority.Create(pr.GetValue(fleet)!, TimeSpan.FromDays(365.25 * Math.Max(1, pr.GetValue(years))));
            var dir = pr.GetValue(output)!;
            ca.Save(dir, pr.GetValue(force));
            Console.WriteLine($"fleet CA for '{ca.Fleet}' (valid until {ca.Certificate.NotAfter.ToUniversalTime():yyyy-MM-dd})");
            Console.WriteLine($"certificate: {Path.GetFullPath(Path.Combine(dir, FleetCertificateAuthority.CertificateFileName))} (give it to every device, service and the broker)");
            Console.WriteLine($"private key: {Path.GetFullPath(Path.Combine(dir, FleetCertificateAuthority.KeyFileName))} (0600; keep it offline)");
            return Task.FromResult(0);
        }));
        var ca = new Command("ca", "The fleet certificate authority.");
        ca.Subcommands.Add(create);
        return ca;
    }

    private static Command Cert()
    {
        var role = new Argument<string>("role") { Description = "aggregator | operator | broker" };
        var name = new Argument<string>("name") { Description = "Name of the holder (certificate CN role:NAME); no ':'." };
        var (caDir, output, days, force) = CommonOptions();
        var hosts = new Option<string[]>("--host")
        {
            Description = "Broker only: a host name or IP address clients connect to (repeat for several).",
            AllowMultipleArgumentsPerToken = true,
        };
        var cert = new Command("cert", "Issue an aggregator, operator or broker certificate.") { role, name, caDir, output, days, force, hosts };
        cert.SetAction((pr, ct) => CliCommon.Guard(() =>
        {
            var text = pr.GetValue(role)!;
            if (!Enum.TryParse<FleetRole>(text, ignoreCase: true, out var r) || r == FleetRole.Device || !Enum.IsDefined(r))
                throw new CliException($"Role '{text}' is not aggregator, operator or broker; devices get theirs from `cl device provision ID`.");
            Issue(pr, new FleetIdentity(r, pr.GetValue(name)!), caDir, output, days, force, pr.GetValue(hosts));
            return Task.FromResult(0);
        }));
        return cert;
    }

    /// <summary>`cl device provision ID --ca DIR --out DIR`: the device's key, certificate (CN = its id) and ca.crt.</summary>
    public static Command Provision()
    {
        var id = new Argument<string>("id") { Description = "Device id (its certificate CN and MQTT username); no ':'." };
        var (caDir, output, days, force) = CommonOptions();
        var provision = new Command("provision", "Issue a device's certificate and private key (device.crt, device.key, ca.crt).") { id, caDir, output, days, force };
        provision.SetAction((pr, ct) => CliCommon.Guard(() =>
        {
            Issue(pr, new FleetIdentity(FleetRole.Device, pr.GetValue(id)!), caDir, output, days, force, null);
            return Task.FromResult(0);
        }));
        return provision;
    }

    /// <summary>The --ca option every command that issues certificates takes.</summary>
    public static Option<string> CaOption() => new("--ca") { Description = "Fleet CA directory (ca.crt, ca.key) made by `cl fleet ca new`.", Required = true };

    private static (Option<string> Ca, Option<string> Out, Option<int?> Days, Option<bool> Force) CommonOptions() => (
        CaOption(),
        new Option<string>("--out") { Description = "Directory to write the certificate, key (0600) and ca.crt into.", Required = true },
        new Option<int?>("--days") { Description = "Validity in days (default 730; operators 365)." },
        new Option<bool>("--force") { Description = "Replace existing files." });

    private static void Issue(ParseResult pr, FleetIdentity identity, Option<string> caDir, Option<string> output, Option<int?> days, Option<bool> force, string[]? hosts)
    {
        FleetIdentity.Validate(identity.Role, identity.Name);
        if (identity.Role != FleetRole.Broker && hosts is { Length: > 0 })
            throw new CliException("--host is for broker certificates only.");
        using var ca = FleetCertificateAuthority.Load(pr.GetValue(caDir)!);
        var lifetime = pr.GetValue(days) is { } d ? TimeSpan.FromDays(Math.Max(1, d)) : (TimeSpan?)null;
        var files = ca.IssueToFiles(identity, pr.GetValue(output)!, FleetIdentity.RoleText(identity.Role), pr.GetValue(force), lifetime, hosts);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{FleetIdentity.RoleText(identity.Role)} '{identity.Name}' of fleet '{ca.Fleet}': MQTT username {identity.Username}"));
        Console.WriteLine($"certificate: {Path.GetFullPath(files.CertificateFile)}");
        Console.WriteLine($"private key: {Path.GetFullPath(files.KeyFile)} (0600)");
        Console.WriteLine($"fleet CA:    {Path.GetFullPath(files.CaFile)}");
    }
}
