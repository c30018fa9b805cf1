using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Configuration;

namespace ContinualLearning.Fleet.Identity;

/// <summary>
/// The one loader of a client's TLS files — the device, the aggregator and every <c>cl</c> command use it: the CA that
/// signs the broker certificate, and the client certificate and private key (mutual TLS; the broker maps the
/// certificate's CN to the username its ACL is written for). Every failure names the file, what is wrong with it and
/// what to do.
/// </summary>
public static class FleetTlsFiles
{
    /// <summary>
    /// Loads the files into <see cref="FleetTlsOptions"/>. <paramref name="caFile"/> null trusts the system store;
    /// <paramref name="certFile"/> and <paramref name="keyFile"/> go together (both or neither); the key file must be
    /// owner-only (0600), the certificate must match it and be valid now.
    /// </summary>
    /// <exception cref="ArgumentException">Only one of the certificate and key files is given.</exception>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="CryptographicException">A file is not what it should be, the key is readable by others, or the certificate is expired.</exception>
    public static FleetTlsOptions Load(string? caFile, string? certFile, string? keyFile, bool allowUntrusted, TimeProvider? time = null)
    {
        if ((certFile is null) != (keyFile is null))
            throw new ArgumentException(certFile is null
                ? $"The TLS private key '{keyFile}' is given without its certificate; give the client certificate too (the .crt next to it)."
                : $"The TLS client certificate '{certFile}' is given without its private key; give the key too (the .key next to it).");
        X509Certificate2Collection? roots = null;
        if (caFile is not null)
        {
            Exists(caFile, "TLS CA certificate", "copy the fleet's ca.crt (made by `cl fleet ca new`) there");
            roots = [];
            try
            {
                roots.ImportFromPemFile(caFile);
            }
            catch (CryptographicException ex)
            {
                throw new CryptographicException($"The TLS CA file '{caFile}' is not a PEM certificate ({ex.Message}); use the fleet's ca.crt.", ex);
            }
            if (roots.Count == 0)
                throw new CryptographicException($"The TLS CA file '{caFile}' holds no PEM certificate (-----BEGIN CERTIFICATE-----); use the fleet's ca.crt.");
        }
        X509Certificate2Collection? client = null;
        if (certFile is not null)
            client = [LoadClientCertificate(certFile, keyFile!, time ?? TimeProvider.System)];
        return new FleetTlsOptions { TrustedCertificateAuthorities = roots, ClientCertificates = client, AllowUntrustedCertificates = allowUntrusted };
    }

    /// <summary>
    /// Adds a configuration error for every TLS file that is set but missing, for a certificate without its key (or the
    /// reverse), and for TLS files set while TLS is off (the connection would silently go out in plain text);
    /// <paramref name="prefix"/> is the keys' section, e.g. <c>broker:</c> on the device.
    /// </summary>
    public static void Check(ICollection<ConfigurationError> errors, string prefix, bool tls, string? caFile, string? certFile, string? keyFile)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (!tls && (caFile ?? certFile ?? keyFile) is { } file)
            errors.Add(new(prefix + "tls", "false", "is off although a TLS file is set (" + file + ")", "set " + prefix + "tls to true, or remove the TLS files"));
        if (caFile is not null && !File.Exists(caFile))
            errors.Add(new(prefix + "tlsCaFile", caFile, "does not exist", "point it at the fleet's ca.crt (from `cl device provision` or `cl fleet cert`), or remove it to use the system trust store"));
        if (certFile is not null && !File.Exists(certFile))
            errors.Add(new(prefix + "tlsCertFile", certFile, "does not exist", "point it at the client certificate made by `cl device provision` or `cl fleet cert`"));
        if (keyFile is not null && !File.Exists(keyFile))
            errors.Add(new(prefix + "tlsKeyFile", keyFile, "does not exist", "point it at the private key made with the certificate (mode 0600)"));
        if ((certFile is null) != (keyFile is null))
            errors.Add(certFile is null
                ? new(prefix + "tlsKeyFile", keyFile, "is set without " + prefix + "tlsCertFile", "set the client certificate too")
                : new(prefix + "tlsCertFile", certFile, "is set without " + prefix + "tlsKeyFile", "set the private key too"));
    }

    private static X509Certificate2 LoadClientCertificate(string certFile, string keyFile, TimeProvider time)
    {
        Exists(certFile, "TLS client certificate", "issue one with `cl device provision` or `cl fleet cert`");
        Exists(keyFile, "TLS private key", "it is written next to the certificate by `cl device provision` or `cl fleet cert`");
        // Checked before the load so that its message (with the chmod to run) is not wrapped in a generic one.
        SecretFiles.CheckMode(keyFile);
        X509Certificate2 certificate;
        try
        {
            certificate = new FleetCredentialFiles(certFile, keyFile, "").LoadCertificate();
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            throw new CryptographicException(
                $"The TLS client certificate '{certFile}' and key '{keyFile}' could not be loaded together ({ex.Message}); both must be PEM files issued together.", ex);
        }
        var now = time.GetUtcNow();
        if (certificate.NotAfter < now.UtcDateTime)
        {
            var expired = certificate.NotAfter;
            certificate.Dispose();
            throw new CryptographicException(
                $"The TLS client certificate '{certFile}' expired on {expired.ToUniversalTime():yyyy-MM-dd HH:mm} UTC; the broker will refuse it. Issue a new one with `cl device provision` or `cl fleet cert`.");
        }
        return certificate;
    }

    private static void Exists(string path, string what, string fix)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"The {what} file '{path}' does not exist; {fix}.", path);
    }
}
