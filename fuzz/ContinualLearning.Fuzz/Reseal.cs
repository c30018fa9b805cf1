using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using ContinualLearning.Bundle;
using ContinualLearning.Deltas;

namespace ContinualLearning.Fuzz;

/// <summary>
/// Recomputes the integrity hashes a mutated input carries, so the fuzzer explores the parser behind the hash
/// check instead of only ever hitting "checksum mismatch". The hash checks themselves are one comparison each
/// and have unit tests.
/// </summary>
internal static class Reseal
{
    /// <summary>A CLD1 payload with its 16-byte truncated SHA-256 trailer recomputed over everything before it.</summary>
    public static byte[] Delta(byte[] input)
    {
        if (input.Length < DeltaCodec.ChecksumLength + 5) return input;
        var copy = (byte[])input.Clone();
        var body = copy.AsSpan(0, copy.Length - DeltaCodec.ChecksumLength);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(body, hash);
        hash[..DeltaCodec.ChecksumLength].CopyTo(copy.AsSpan(body.Length));
        return copy;
    }

    /// <summary>
    /// A CLC1 chunk with its trailing SHA-256 recomputed over the bytes between its header and the trailer
    /// (when the header's own length bytes leave room for one).
    /// </summary>
    public static byte[] Chunk(byte[] input)
    {
        if (input.Length < 6) return input;
        var version = 6 + input[5];
        if (input.Length <= version) return input;
        var data = version + 1 + input[version] + 12;
        if (input.Length < data + 32) return input;
        var copy = (byte[])input.Clone();
        SHA256.HashData(copy.AsSpan(data, copy.Length - 32 - data), copy.AsSpan(copy.Length - 32));
        return copy;
    }

    /// <summary>
    /// Rewrites the "files" hashes of an extracted bundle's manifest.json to the hashes of the files present,
    /// leaving a manifest that is not a JSON object with a "files" object as it is.
    /// </summary>
    public static void BundleDirectory(string directory)
    {
        var manifestPath = Path.Combine(directory, ModelManifest.ManifestFileName);
        if (!File.Exists(manifestPath)) return;
        try
        {
            // The node model parses lazily: its errors come from the indexers as well as from Parse.
            if (JsonNode.Parse(File.ReadAllBytes(manifestPath)) is not JsonObject root || root["files"] is not JsonObject files) return;
            foreach (var name in files.Select(kv => kv.Key).ToArray())
            {
                var path = Path.Combine(directory, name);
                if (Path.GetFileName(name) != name || !File.Exists(path)) continue;
                files[name] = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
            }
            File.WriteAllText(manifestPath, root.ToJsonString());
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            // Not JSON, or JSON the node model refuses (duplicate keys, unpaired surrogates): ModelManifest.Parse gets it unchanged.
        }
    }
}
