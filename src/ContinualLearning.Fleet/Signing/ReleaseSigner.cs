using System.Security.Cryptography;
using ContinualLearning.Fleet.Messages;

namespace ContinualLearning.Fleet.Signing;

/// <summary>Outcome of a signature or chunk check; <see cref="Reason"/> says what failed and what to do.</summary>
public sealed record VerificationResult(bool Ok, string Reason)
{
    /// <summary>The passing result.</summary>
    public static VerificationResult Valid { get; } = new(true, "ok");

    /// <summary>A failing result with its reason.</summary>
    public static VerificationResult Fail(string reason) => new(false, reason);
}

/// <summary>
/// Signs and verifies <see cref="Release"/> messages with ECDSA P-256 / SHA-256.
/// Canonical bytes = UTF-8 JSON of the release with <c>signature</c> removed (source-generated serializer, fixed
/// property order, no whitespace) ‖ 0x0A ‖ the 32 raw bytes of the bundle SHA-256. The chunk hashes are inside the
/// JSON, so a signed release vouches for every chunk.
/// </summary>
public static class ReleaseSigner
{
    /// <summary>The bytes the signature covers (see the type's summary).</summary>
    public static byte[] CanonicalBytes(Release release)
    {
        ArgumentNullException.ThrowIfNull(release);
        var json = FleetJson.Serialize(release with { Signature = null });
        var sha = ParseSha256(release.BundleSha256, "bundleSha256");
        var bytes = new byte[json.Length + 1 + sha.Length];
        json.CopyTo(bytes, 0);
        bytes[json.Length] = (byte)'\n';
        sha.CopyTo(bytes, json.Length + 1);
        return bytes;
    }

    /// <summary>Returns the release with <c>keyId</c> and <c>signature</c> set.</summary>
    public static Release Sign(Release release, ECDsa privateKey)
    {
        ArgumentNullException.ThrowIfNull(release);
        ArgumentNullException.ThrowIfNull(privateKey);
        var withKey = release with { KeyId = ReleaseKeys.KeyId(privateKey), Signature = null };
        var signature = privateKey.SignData(CanonicalBytes(withKey), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return withKey with { Signature = Convert.ToBase64String(signature) };
    }

    /// <summary>Checks structure and signature. Never throws for bad input; the reason names the failing field.</summary>
    public static VerificationResult Verify(Release release, ECDsa publicKey)
    {
        ArgumentNullException.ThrowIfNull(release);
        ArgumentNullException.ThrowIfNull(publicKey);
        if (string.IsNullOrEmpty(release.Signature))
            return VerificationResult.Fail($"Release {release.ModelName} v{release.Version} is unsigned; refusing to install it.");
        var structure = CheckStructure(release);
        if (!structure.Ok) return structure;
        return VerifySignature(publicKey, release.KeyId, release.Signature, CanonicalBytes(release), $"Release {release.ModelName} v{release.Version}", "release", "manifest");
    }

    /// <summary>
    /// The key and ECDSA checks every signed fleet message shares: the key id it claims is the trusted key's, the
    /// signature is base64, and it verifies over <paramref name="canonical"/>. <paramref name="name"/> starts each
    /// reason ("Release m v1.2.0"); <paramref name="contents"/> and <paramref name="tampered"/> name what a mismatch means.
    /// </summary>
    internal static VerificationResult VerifySignature(ECDsa publicKey, string? claimedKeyId, string signatureBase64, byte[] canonical, string name, string contents, string tampered)
    {
        var keyId = ReleaseKeys.KeyId(publicKey);
        if (claimedKeyId is not null && claimedKeyId != keyId)
            return VerificationResult.Fail($"{name} was signed with key {claimedKeyId}, but this device trusts key {keyId}; install the matching public key.");
        byte[] signature;
        try
        {
            signature = Convert.FromBase64String(signatureBase64);
        }
        catch (FormatException)
        {
            return VerificationResult.Fail($"{name}: the signature is not valid base64.");
        }
        return publicKey.VerifyData(canonical, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)
            ? VerificationResult.Valid
            : VerificationResult.Fail($"{name}: the ECDSA signature does not match the {contents} contents (tampered {tampered}, wrong key, or damaged signature).");
    }

    /// <summary>Field-level sanity of a release (hex hashes, chunk arithmetic), independent of the signature.</summary>
    public static VerificationResult CheckStructure(Release release)
    {
        ArgumentNullException.ThrowIfNull(release);
        if (!IsSha256Hex(release.BundleSha256))
            return VerificationResult.Fail($"Release {release.ModelName} v{release.Version}: bundleSha256 '{release.BundleSha256}' is not 64 hex digits.");
        if (release.ChunkSize <= 0 || release.ChunkCount <= 0 || release.BundleSize < 0)
            return VerificationResult.Fail($"Release {release.ModelName} v{release.Version}: chunk size {release.ChunkSize}, chunk count {release.ChunkCount} and bundle size {release.BundleSize} must be positive.");
        // The assembler holds the bundle in one array; and with a size beyond that, the count below could wrap.
        if (release.BundleSize > Array.MaxLength)
            return VerificationResult.Fail($"Release {release.ModelName} v{release.Version}: bundle size {release.BundleSize} is over the {Array.MaxLength}-byte limit of one bundle.");
        // In long: a size of 2^32 + 1 in 1-byte chunks once passed as "1 chunk" through an int cast.
        var expectedCount = Math.Max(1, (release.BundleSize + release.ChunkSize - 1) / release.ChunkSize);
        if (release.ChunkCount != expectedCount)
            return VerificationResult.Fail($"Release {release.ModelName} v{release.Version}: {release.BundleSize} bytes in chunks of {release.ChunkSize} need {expectedCount} chunks, the release says {release.ChunkCount}.");
        if (release.ChunkSha256 is null || release.ChunkSha256.Count != release.ChunkCount)
            return VerificationResult.Fail($"Release {release.ModelName} v{release.Version}: lists {release.ChunkSha256?.Count ?? 0} chunk hashes for {release.ChunkCount} chunks.");
        for (var i = 0; i < release.ChunkSha256.Count; i++)
            if (!IsSha256Hex(release.ChunkSha256[i]))
                return VerificationResult.Fail($"Release {release.ModelName} v{release.Version}: chunk {i} hash '{release.ChunkSha256[i]}' is not 64 hex digits.");
        return VerificationResult.Valid;
    }

    internal static bool IsSha256Hex(string? s) => s is { Length: 64 } && s.All(Uri.IsHexDigit);

    private static byte[] ParseSha256(string hex, string field)
    {
        if (!IsSha256Hex(hex)) throw new ArgumentException($"{field} '{hex}' is not 64 hex digits.");
        return Convert.FromHexString(hex);
    }
}
