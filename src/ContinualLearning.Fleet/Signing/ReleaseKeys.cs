using System.Security.Cryptography;

namespace ContinualLearning.Fleet.Signing;

/// <summary>
/// ECDSA P-256 release-signing keys as PEM files: the private key as PKCS#8 ("BEGIN PRIVATE KEY"), the public key
/// as SubjectPublicKeyInfo ("BEGIN PUBLIC KEY"), readable by <c>openssl pkey</c>. The aggregator holds the private
/// key; devices ship only the public one.
/// </summary>
public static class ReleaseKeys
{
    /// <summary>Creates a new ECDSA P-256 signing key.</summary>
    public static ECDsa Generate() => ECDsa.Create(ECCurve.NamedCurves.nistP256);

    /// <summary>
    /// Writes both PEM files, replacing existing ones. The private key file is created anew with mode 0600 (an
    /// existing file is deleted first, so a replaced 0644 file cannot keep its mode).
    /// </summary>
    public static void Save(ECDsa key, string privateKeyPath, string publicKeyPath)
    {
        ArgumentNullException.ThrowIfNull(key);
        Identity.SecretFiles.Write(privateKeyPath, key.ExportPkcs8PrivateKeyPem(), overwrite: true);
        File.WriteAllText(publicKeyPath, key.ExportSubjectPublicKeyInfoPem());
    }

    /// <summary>Reads a PKCS#8 private key PEM file (the aggregator's signing key).</summary>
    public static ECDsa LoadPrivate(string path) => Load(path, "private");

    /// <summary>Reads a SubjectPublicKeyInfo public key PEM file (what devices trust).</summary>
    public static ECDsa LoadPublic(string path) => Load(path, "public");

    /// <summary>A short id of a key: first 8 bytes of SHA-256 over its SubjectPublicKeyInfo, hex.</summary>
    public static string KeyId(ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo()).AsSpan(0, 8));
    }

    private static ECDsa Load(string path, string what)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"The {what} release key file '{path}' does not exist; create one with `cl model keygen`.", path);
        // A private key readable by others is refused (see SecretFiles); a public key may be world-readable.
        var text = what == "private" ? Identity.SecretFiles.Read(path, "private release key") : File.ReadAllText(path);
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(text);
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            key.Dispose();
            throw new CryptographicException($"'{path}' is not a PEM {what} EC key ({ex.Message}).", ex);
        }
        if (key.KeySize != 256)
        {
            key.Dispose();
            throw new CryptographicException($"'{path}' holds a {key.KeySize}-bit EC key; release keys must be P-256.");
        }
        return key;
    }
}
