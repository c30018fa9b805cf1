using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace ContinualLearning.Fleet.Messages;

/// <summary>
/// One piece of a model bundle as sent on <c>cl/{fleet}/model/{name}/{version}/chunk/{n}</c>.
/// Binary layout (docs/protocol.md): "CLC1", format byte, model name (u8 length + UTF-8), version (u8 length + UTF-8, the semantic version),
/// index (i32 LE), chunk count (i32 LE), data length (i32 LE), data, SHA-256 of data (32 bytes).
/// The embedded hash catches transport damage; the hash listed in the signed <see cref="Release"/> is what makes it trusted.
/// </summary>
public sealed record BundleChunk(string ModelName, string Version, int Index, int Count, byte[] Data)
{
    /// <summary>Format byte this build writes and reads.</summary>
    public const byte FormatVersion = 1;

    private const int HashLength = 32;

    /// <summary>"CLC1".</summary>
    public static ReadOnlySpan<byte> Magic => "CLC1"u8;

    /// <summary>Lower-case hex SHA-256 of <see cref="Data"/>.</summary>
    public string Sha256Hex => Convert.ToHexStringLower(SHA256.HashData(Data));

    /// <summary>Serialises the chunk in the binary layout above.</summary>
    public byte[] Encode()
    {
        var name = Encoding.UTF8.GetBytes(ModelName);
        if (name.Length is 0 or > 255) throw new ArgumentException($"Model name '{ModelName}' must be 1–255 bytes of UTF-8.");
        var version = Encoding.UTF8.GetBytes(Version);
        if (version.Length is 0 or > 255) throw new ArgumentException($"Version '{Version}' must be 1–255 bytes of UTF-8.");
        var buffer = new byte[4 + 1 + 1 + name.Length + 1 + version.Length + 4 + 4 + 4 + Data.Length + HashLength];
        var s = buffer.AsSpan();
        Magic.CopyTo(s);
        s[4] = FormatVersion;
        s[5] = (byte)name.Length;
        name.CopyTo(s[6..]);
        var p = 6 + name.Length;
        s[p] = (byte)version.Length;
        version.CopyTo(s[(p + 1)..]);
        p += 1 + version.Length;
        BinaryPrimitives.WriteInt32LittleEndian(s[p..], Index);
        BinaryPrimitives.WriteInt32LittleEndian(s[(p + 4)..], Count);
        BinaryPrimitives.WriteInt32LittleEndian(s[(p + 8)..], Data.Length);
        p += 12;
        Data.CopyTo(s[p..]);
        SHA256.HashData(Data, s[(p + Data.Length)..]);
        return buffer;
    }

    /// <summary>Parses and checks a chunk; any inconsistency raises <see cref="FleetMessageException"/>.</summary>
    public static BundleChunk Decode(ReadOnlySpan<byte> payload, int maxChunkBytes = 16 * 1024 * 1024)
    {
        if (payload.Length < 6 || !payload[..4].SequenceEqual(Magic))
            throw new FleetMessageException("Not a bundle chunk: missing \"CLC1\" magic.");
        if (payload[4] != FormatVersion)
            throw new FleetMessageException($"Bundle chunk format version {payload[4]} is not supported (this build reads {FormatVersion}).");
        var nameLength = payload[5];
        if (nameLength == 0 || payload.Length < 6 + nameLength + 1)
            throw new FleetMessageException($"Bundle chunk is truncated ({payload.Length} bytes).");
        var name = Utf8(payload.Slice(6, nameLength), "model name");
        var p = 6 + nameLength;
        var versionLength = payload[p];
        var fixedLength = p + 1 + versionLength + 12 + HashLength;
        if (versionLength == 0 || payload.Length < fixedLength)
            throw new FleetMessageException($"Bundle chunk is truncated ({payload.Length} bytes).");
        var version = Utf8(payload.Slice(p + 1, versionLength), "version");
        p += 1 + versionLength;
        var index = BinaryPrimitives.ReadInt32LittleEndian(payload[p..]);
        var count = BinaryPrimitives.ReadInt32LittleEndian(payload[(p + 4)..]);
        var length = BinaryPrimitives.ReadInt32LittleEndian(payload[(p + 8)..]);
        if (count <= 0 || index < 0 || index >= count)
            throw new FleetMessageException($"Bundle chunk header is inconsistent: version {version}, index {index} of {count}.");
        if (length < 0 || length > maxChunkBytes)
            throw new FleetMessageException($"Bundle chunk {index} claims {length} data bytes (limit {maxChunkBytes}).");
        if (payload.Length != fixedLength + length)
            throw new FleetMessageException($"Bundle chunk {index} is {payload.Length} bytes; its header implies {fixedLength + length} (truncated or padded).");
        p += 12;
        var data = payload.Slice(p, length).ToArray();
        Span<byte> hash = stackalloc byte[HashLength];
        SHA256.HashData(data, hash);
        if (!hash.SequenceEqual(payload.Slice(p + length, HashLength)))
            throw new FleetMessageException($"Bundle chunk {index} of {name} v{version} fails its SHA-256: damaged in transit.");
        return new BundleChunk(name, version, index, count, data);
    }

    private static string Utf8(ReadOnlySpan<byte> bytes, string field)
    {
        try
        {
            return new UTF8Encoding(false, true).GetString(bytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw new FleetMessageException($"Bundle chunk {field} is not valid UTF-8.", ex);
        }
    }
}
