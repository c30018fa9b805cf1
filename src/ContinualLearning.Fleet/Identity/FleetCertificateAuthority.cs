using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ContinualLearning.Fleet.Identity;

/// <summary>
/// The fleet's private certificate authority: an ECDSA P-256 root that issues the broker's server certificate and
/// one client certificate per device, aggregator and operator. The broker trusts only this CA and maps each client
/// certificate's CN to a username (<see cref="FleetIdentity.Username"/>) that its ACL is written for, so the topic a
/// client may use follows from the certificate it holds. System.Security.Cryptography's <see cref="CertificateRequest"/>
/// does the X.509 work; nothing here is hand-written ASN.1.
/// </summary>
public sealed class FleetCertificateAuthority : IDisposable
{
    /// <summary>File name of the CA certificate (PEM) in a CA directory; this file is what every client and the broker trust.</summary>
    public const string CertificateFileName = "ca.crt";

    /// <summary>File name of the CA private key (PKCS#8 PEM, mode 0600) in a CA directory; keep it offline.</summary>
    public const string KeyFileName = "ca.key";

    private const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuth = "1.3.6.1.5.5.7.3.2";

    private readonly ECDsa _key;
    private readonly TimeProvider _time;

    private FleetCertificateAuthority(X509Certificate2 certificate, ECDsa key, TimeProvider time)
    {
        Certificate = certificate;
        _key = key;
        _time = time;
    }

    /// <summary>The CA certificate (public part only).</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The fleet the CA was made for (its O attribute names it).</summary>
    public string Fleet => Certificate.GetNameInfo(X509NameType.SimpleName, false) is var cn && cn.StartsWith("ContinualLearning fleet ", StringComparison.Ordinal)
        ? cn["ContinualLearning fleet ".Length..]
        : cn;

    /// <summary>Creates a new CA for <paramref name="fleet"/>, valid for <paramref name="lifetime"/> (default 10 years).</summary>
    public static FleetCertificateAuthority Create(string fleet, TimeSpan? lifetime = null, TimeProvider? time = null)
    {
        Topics.FleetTopics.Id(fleet, "fleet");
        time ??= TimeProvider.System;
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN=ContinualLearning fleet {fleet}, O=ContinualLearning"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = time.GetUtcNow();
        // Backdated a little so a device whose clock lags the CA machine's by minutes still accepts fresh certificates.
        using var selfSigned = request.CreateSelfSigned(now.AddHours(-1), now + (lifetime ?? TimeSpan.FromDays(3650)));
        return new FleetCertificateAuthority(X509CertificateLoader.LoadCertificate(selfSigned.RawData), key, time);
    }

    /// <summary>Loads a CA saved by <see cref="Save"/>; the key file must be owner-only (0600).</summary>
    public static FleetCertificateAuthority Load(string directory, TimeProvider? time = null)
    {
        var certificate = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(directory, CertificateFileName));
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(SecretFiles.Read(Path.Combine(directory, KeyFileName), "fleet CA private key"));
        }
        catch (ArgumentException ex)
        {
            key.Dispose();
            throw new CryptographicException($"'{Path.Combine(directory, KeyFileName)}' is not a PEM EC private key ({ex.Message}).", ex);
        }
        return new FleetCertificateAuthority(certificate, key, time ?? TimeProvider.System);
    }

    /// <summary>Writes ca.crt and ca.key (0600) into <paramref name="directory"/>.</summary>
    public void Save(string directory, bool overwrite = false)
    {
        Directory.CreateDirectory(directory);
        var certPath = Path.Combine(directory, CertificateFileName);
        if (File.Exists(certPath) && !overwrite)
            throw new IOException($"'{certPath}' already exists; a new CA would orphan every certificate it issued. Pass --force if you mean it.");
        SecretFiles.Write(Path.Combine(directory, KeyFileName), _key.ExportPkcs8PrivateKeyPem(), overwrite);
        File.WriteAllText(certPath, Certificate.ExportCertificatePem());
    }

    /// <summary>
    /// Issues a certificate (with its new private key) for <paramref name="identity"/>: a client certificate for
    /// devices, aggregators and operators, a server certificate naming <paramref name="hostNames"/> (DNS names or IP
    /// addresses) for the broker. Default lifetime: 2 years for devices and services, 1 year for operators.
    /// </summary>
    public X509Certificate2 Issue(FleetIdentity identity, TimeSpan? lifetime = null, IReadOnlyList<string>? hostNames = null)
    {
        ArgumentNullException.ThrowIfNull(identity);
        FleetIdentity.Validate(identity.Role, identity.Name);
        if (identity.Role == FleetRole.Broker && (hostNames is null || hostNames.Count == 0))
            throw new ArgumentException("A broker certificate needs at least one host name or IP address that clients connect to (e.g. --host broker.example.com).", nameof(hostNames));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X500DistinguishedName(
            $"CN={identity.Username}, OU={FleetIdentity.RoleText(identity.Role)}, O=ContinualLearning fleet {Fleet}",
            X500DistinguishedNameFlags.UseCommas);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(identity.Role == FleetRole.Broker ? ServerAuth : ClientAuth)], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        if (hostNames is { Count: > 0 })
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var host in hostNames)
            {
                if (IPAddress.TryParse(host, out var ip)) san.AddIpAddress(ip);
                else san.AddDnsName(host);
            }
            request.CertificateExtensions.Add(san.Build());
        }
        var now = _time.GetUtcNow();
        var notAfter = now + (lifetime ?? (identity.Role == FleetRole.Operator ? TimeSpan.FromDays(365) : TimeSpan.FromDays(730)));
        if (notAfter > Certificate.NotAfter) notAfter = Certificate.NotAfter;
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // a positive INTEGER
        var generator = X509SignatureGenerator.CreateForECDsa(_key);
        using var issued = request.Create(Certificate.SubjectName, generator, now.AddHours(-1), notAfter, serial);
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>
    /// Issues a certificate and writes <c>{stem}.crt</c>, <c>{stem}.key</c> (0600) and the CA's <c>ca.crt</c> into
    /// <paramref name="directory"/>: everything a client or the broker needs.
    /// </summary>
    public FleetCredentialFiles IssueToFiles(FleetIdentity identity, string directory, string stem, bool overwrite = false,
        TimeSpan? lifetime = null, IReadOnlyList<string>? hostNames = null)
    {
        ArgumentNullException.ThrowIfNull(identity);
        using var certificate = Issue(identity, lifetime, hostNames);
        Directory.CreateDirectory(directory);
        var files = new FleetCredentialFiles(Path.Combine(directory, stem + ".crt"), Path.Combine(directory, stem + ".key"), Path.Combine(directory, CertificateFileName));
        if (!overwrite && File.Exists(files.CertificateFile))
            throw new IOException($"'{files.CertificateFile}' already exists; pass --force to replace it.");
        using (var key = certificate.GetECDsaPrivateKey()!)
            SecretFiles.Write(files.KeyFile, key.ExportPkcs8PrivateKeyPem(), overwrite);
        File.WriteAllText(files.CertificateFile, certificate.ExportCertificatePem());
        File.WriteAllText(files.CaFile, Certificate.ExportCertificatePem());
        return files;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _key.Dispose();
        Certificate.Dispose();
    }
}

/// <summary>The three PEM files of one credential: its certificate, its private key (0600) and the fleet CA certificate.</summary>
public sealed record FleetCredentialFiles(string CertificateFile, string KeyFile, string CaFile)
{
    /// <summary>Loads the certificate with its private key (the key file must be owner-only).</summary>
    public X509Certificate2 LoadCertificate()
    {
        return X509Certificate2.CreateFromPem(File.ReadAllText(CertificateFile), SecretFiles.Read(KeyFile, "private key"));
    }

    /// <summary>Loads the trusted CA certificate(s).</summary>
    public X509Certificate2Collection LoadCa()
    {
        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile(CaFile);
        return roots;
    }
}
