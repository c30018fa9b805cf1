using System.Security.Cryptography.X509Certificates;
using ContinualLearning.Fleet.Broker;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Identity;

namespace ContinualLearning.Cli.Demo;

/// <summary>
/// The demo's fleet identities, as an operator would set them up with <c>cl fleet ca new</c> and
/// <c>cl device provision</c>: a throwaway fleet CA in the demo's working directory (or the one given with
/// <c>--ca</c>), a broker certificate for 127.0.0.1, and one client certificate each for the aggregator, the operator
/// (the demo's monitor) and every device — the poisoned one included: it is a compromised but genuine device. Every
/// client loads its files through the same settings the daemon and the aggregator read (tlsCaFile, tlsCertFile, tlsKeyFile).
/// </summary>
internal sealed class DemoPki : IDisposable
{
    /// <summary>The aggregator's and the operator's names in their certificates (CN aggregator:demo, operator:demo).</summary>
    public const string ServiceName = "demo";

    private readonly FleetCertificateAuthority _authority;
    private readonly Dictionary<string, FleetCredentialFiles> _devices;

    private DemoPki(FleetCertificateAuthority authority, string caFile, FleetCredentialFiles aggregator, FleetCredentialFiles @operator,
        Dictionary<string, FleetCredentialFiles> devices, X509Certificate2 brokerCertificate, string directory)
    {
        _authority = authority;
        CaFile = caFile;
        Aggregator = aggregator;
        Operator = @operator;
        _devices = devices;
        BrokerCertificate = brokerCertificate;
        Directory = directory;
    }

    /// <summary>Where the CA and every credential were written.</summary>
    public string Directory { get; }

    /// <summary>The fleet CA certificate every client trusts the broker by.</summary>
    public string CaFile { get; }

    public FleetCredentialFiles Aggregator { get; }

    public FleetCredentialFiles Operator { get; }

    /// <summary>The embedded broker's server certificate (with its key), for 127.0.0.1 and localhost.</summary>
    public X509Certificate2 BrokerCertificate { get; }

    /// <summary>The CA certificate in memory.</summary>
    public X509Certificate2 CaCertificate => _authority.Certificate;

    /// <summary>The credential files of one device.</summary>
    public FleetCredentialFiles Device(string deviceId) => _devices[deviceId];

    /// <summary>Issues everything into <paramref name="directory"/>; <paramref name="caDirectory"/> names an existing fleet CA (ca.crt + ca.key) to issue from instead of a new one.</summary>
    public static DemoPki Create(string directory, string fleet, IEnumerable<string> deviceIds, string? caDirectory)
    {
        var authority = caDirectory is null ? FleetCertificateAuthority.Create(fleet) : FleetCertificateAuthority.Load(caDirectory);
        try
        {
            if (caDirectory is null) authority.Save(Path.Combine(directory, "ca"));
            var caFile = Path.Combine(directory, FleetCertificateAuthority.CertificateFileName);
            var aggregator = authority.IssueToFiles(new FleetIdentity(FleetRole.Aggregator, ServiceName), directory, "aggregator");
            var @operator = authority.IssueToFiles(new FleetIdentity(FleetRole.Operator, ServiceName), directory, "operator");
            var devices = deviceIds.ToDictionary(id => id, id => authority.IssueToFiles(new FleetIdentity(FleetRole.Device, id), directory, id), StringComparer.Ordinal);
            var broker = authority.Issue(new FleetIdentity(FleetRole.Broker, ServiceName), hostNames: ["127.0.0.1", "localhost"]);
            return new DemoPki(authority, caFile, aggregator, @operator, devices, broker, directory);
        }
        catch
        {
            authority.Dispose();
            throw;
        }
    }

    /// <summary>The embedded broker's settings: this CA only, and the fleet ACL for <paramref name="fleet"/>.</summary>
    public EmbeddedBrokerSecurity BrokerSecurity(string fleet) => new(BrokerCertificate, CaCertificate, new FleetAcl(fleet).Allows);

    /// <summary>TLS client settings from one credential's files, loaded as every service loads them.</summary>
    public static FleetTlsOptions Tls(FleetCredentialFiles files) => FleetTlsFiles.Load(files.CaFile, files.CertificateFile, files.KeyFile, allowUntrusted: false);

    public void Dispose()
    {
        BrokerCertificate.Dispose();
        _authority.Dispose();
    }
}
