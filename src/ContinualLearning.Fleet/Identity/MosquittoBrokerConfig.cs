using System.Globalization;
using System.Text;

namespace ContinualLearning.Fleet.Identity;

/// <summary>The files <see cref="MosquittoBrokerConfig.Write"/> wrote.</summary>
/// <param name="ConfigFile">mosquitto.conf.</param>
/// <param name="AclFile">The ACL rendered from <see cref="FleetAcl"/>.</param>
/// <param name="Credentials">The broker's certificate, key (0600) and the fleet CA certificate.</param>
public sealed record MosquittoBrokerFiles(string ConfigFile, string AclFile, FleetCredentialFiles Credentials);

/// <summary>
/// Mosquitto 2 as the fleet's broker (<c>cl broker config</c>): one TLS listener that requires a client certificate
/// issued by the fleet CA, takes the certificate's CN as the username (<c>use_identity_as_username</c>), allows no
/// anonymous client, enforces the ACL written from <see cref="FleetAcl"/>, and refuses oversized messages.
/// </summary>
public static class MosquittoBrokerConfig
{
    /// <summary>
    /// Largest payload the broker accepts (<c>message_size_limit</c>): 8 MiB. Samples are capped at 1 MiB and release
    /// chunks at the chunk size (64 KiB by default); the largest legitimate message is a dense float32 delta, about
    /// 4 bytes per head parameter, so 8 MiB admits heads up to ~2 M parameters. Raise it only for larger heads.
    /// </summary>
    public const int MessageSizeLimit = 8 * 1024 * 1024;

    /// <summary>Largest MQTT packet (<c>max_packet_size</c>): the payload limit plus 64 KiB for topic and properties.</summary>
    public const int MaxPacketSize = MessageSizeLimit + 64 * 1024;

    /// <summary>File name of the configuration in the output directory.</summary>
    public const string ConfigFileName = "mosquitto.conf";

    /// <summary>File name of the ACL in the output directory.</summary>
    public const string AclFileName = "fleet.acl";

    /// <summary>
    /// Issues the broker certificate for <paramref name="hostNames"/> and writes it, the ACL and mosquitto.conf into
    /// <paramref name="directory"/>; the configuration names the other files by absolute path.
    /// </summary>
    public static MosquittoBrokerFiles Write(FleetCertificateAuthority ca, FleetAcl acl, string directory, int port,
        IReadOnlyList<string> hostNames, string brokerName = "broker", string? bindAddress = null, bool overwrite = false)
    {
        ArgumentNullException.ThrowIfNull(ca);
        ArgumentNullException.ThrowIfNull(acl);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        if (ca.Fleet != acl.Fleet)
            throw new ArgumentException($"The CA was made for fleet '{ca.Fleet}' but the ACL is for fleet '{acl.Fleet}'; use the CA of fleet '{acl.Fleet}' or pass --fleet {ca.Fleet}.", nameof(acl));
        directory = Path.GetFullPath(directory);
        var configFile = Path.Combine(directory, ConfigFileName);
        if (!overwrite && File.Exists(configFile))
            throw new IOException($"'{configFile}' already exists; pass --force to replace it (and the broker certificate).");
        var credentials = ca.IssueToFiles(new FleetIdentity(FleetRole.Broker, brokerName), directory, "broker", overwrite, hostNames: hostNames);
        var aclFile = Path.Combine(directory, AclFileName);
        File.WriteAllText(aclFile, acl.RenderMosquitto());
        File.WriteAllText(configFile, Render(credentials, aclFile, port, bindAddress, acl.Fleet));
        return new MosquittoBrokerFiles(configFile, aclFile, credentials);
    }

    /// <summary>The text of mosquitto.conf for a listener on <paramref name="port"/> using the given files.</summary>
    public static string Render(FleetCredentialFiles credentials, string aclFile, int port, string? bindAddress, string fleet)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        var c = CultureInfo.InvariantCulture;
        return new StringBuilder()
            .AppendLine(c, $"# Mosquitto 2 broker of fleet '{fleet}', written by `cl broker config` (docs/protocol.md, \"Access control\").")
            .AppendLine("# Every client presents a certificate of the fleet CA; its CN is its username in the ACL. No anonymous access.")
            .AppendLine(c, $"listener {port}{(bindAddress is null ? "" : " " + bindAddress)}")
            .AppendLine(c, $"cafile {credentials.CaFile}")
            .AppendLine(c, $"certfile {credentials.CertificateFile}")
            .AppendLine(c, $"keyfile {credentials.KeyFile}")
            .AppendLine("tls_version tlsv1.2")
            .AppendLine("require_certificate true")
            .AppendLine("use_identity_as_username true")
            .AppendLine("allow_anonymous false")
            .AppendLine(c, $"acl_file {aclFile}")
            .AppendLine("# Payload cap (8 MiB: the largest dense delta of a ~2 M-parameter head) and the packet cap with 64 KiB of headers.")
            .AppendLine(c, $"message_size_limit {MessageSizeLimit}")
            .AppendLine(c, $"max_packet_size {MaxPacketSize}")
            .AppendLine("# QoS 1 messages queued per client beyond what is in flight (default 1,000): deltas wait here for an aggregator that")
            .AppendLine("# is busy or restarting, and beyond this Mosquitto drops them. In flight towards an MQTT 5 client: its Receive Maximum.")
            .AppendLine("max_queued_messages 100000")
            .ToString();
    }
}
