using System.Security.Cryptography;
using ContinualLearning.Fleet.Messages;

namespace ContinualLearning.Fleet.Signing;

/// <summary>
/// Signs and verifies <see cref="ClusterDirectory"/> messages with the release key (ECDSA P-256 / SHA-256), as
/// <see cref="ReleaseSigner"/> does releases. Canonical bytes = UTF-8 JSON of the directory with <c>signature</c>
/// removed (source-generated serializer, fixed property order, no whitespace); the assignments are serialised in
/// ordinal order of device id so the same directory always has the same bytes.
/// </summary>
public static class ClusterDirectorySigner
{
    /// <summary>The bytes the signature covers.</summary>
    public static byte[] CanonicalBytes(ClusterDirectory directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        return FleetJson.Serialize(Canonical(directory) with { Signature = null });
    }

    /// <summary>Returns the directory (assignments in canonical order) with <c>keyId</c> and <c>signature</c> set.</summary>
    public static ClusterDirectory Sign(ClusterDirectory directory, ECDsa privateKey)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(privateKey);
        var withKey = Canonical(directory) with { KeyId = ReleaseKeys.KeyId(privateKey), Signature = null };
        var signature = privateKey.SignData(CanonicalBytes(withKey), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return withKey with { Signature = Convert.ToBase64String(signature) };
    }

    /// <summary>Checks structure and signature. Never throws for bad input; the reason names the failing field.</summary>
    public static VerificationResult Verify(ClusterDirectory directory, ECDsa publicKey)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(publicKey);
        var name = $"Cluster directory of {directory.ModelName} (sequence {directory.Sequence})";
        if (string.IsNullOrEmpty(directory.Signature))
            return VerificationResult.Fail($"{name} is unsigned; ignoring it.");
        var structure = CheckStructure(directory);
        if (!structure.Ok) return structure;
        return ReleaseSigner.VerifySignature(publicKey, directory.KeyId, directory.Signature, CanonicalBytes(directory), name, "directory", "directory");
    }

    /// <summary>
    /// Field-level sanity independent of the signature: cluster 0 present and named after the model, cluster ids unique
    /// and ascending, every cluster's model name the derived one, every assignment naming a live cluster.
    /// </summary>
    public static VerificationResult CheckStructure(ClusterDirectory directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var name = $"Cluster directory of {directory.ModelName} (sequence {directory.Sequence})";
        // JSON nullability does not reach list elements, and ids come from the wire: check before using them.
        if (!Topics.FleetTopics.IsValidId(directory.ModelName))
            return VerificationResult.Fail($"{name}: the model name is not a valid id.");
        if (directory.Clusters is null || directory.Clusters.Count == 0 || directory.Clusters[0] is not { Cluster: 0 })
            return VerificationResult.Fail($"{name}: cluster 0 (the model itself) must be listed first.");
        var live = new HashSet<int>();
        var previous = -1;
        foreach (var c in directory.Clusters)
        {
            if (c is null)
                return VerificationResult.Fail($"{name}: a cluster entry is null.");
            if (c.Cluster > ContinualLearning.Deltas.ClusterNames.MaxCluster)
                return VerificationResult.Fail($"{name}: cluster id {c.Cluster} is above {ContinualLearning.Deltas.ClusterNames.MaxCluster}.");
            if (c.Cluster <= previous)
                return VerificationResult.Fail($"{name}: cluster ids must be unique and ascending; {c.Cluster} follows {previous}.");
            previous = c.Cluster;
            var expected = ContinualLearning.Deltas.ClusterNames.ModelName(directory.ModelName, c.Cluster);
            if (c.ModelName != expected)
                return VerificationResult.Fail($"{name}: cluster {c.Cluster} is named '{c.ModelName}', expected '{expected}'.");
            if (!ContinualLearning.Bundle.SemanticVersion.TryParse(c.Version, out _))
                return VerificationResult.Fail($"{name}: cluster {c.Cluster} version '{c.Version}' is not a semantic version.");
            live.Add(c.Cluster);
        }
        foreach (var (device, cluster) in directory.Assignments ?? new Dictionary<string, int>())
            if (!live.Contains(cluster))
                return VerificationResult.Fail($"{name}: device '{device}' is assigned to cluster {cluster}, which is not listed.");
        return VerificationResult.Valid;
    }

    private static ClusterDirectory Canonical(ClusterDirectory directory)
    {
        var ordered = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var (device, cluster) in directory.Assignments ?? new Dictionary<string, int>()) ordered[device] = cluster;
        return directory with { Assignments = ordered };
    }
}
