using System.Buffers.Binary;
using System.Numerics;

namespace ContinualLearning.UnitTests.Device;

/// <summary>
/// Finds audio in files: any <see cref="RunBytes"/>-byte run of a known clip, as PCM16 little-endian or as float32
/// samples, anywhere in a file (at any byte offset). Every sample-aligned run of every clip is indexed by a 64-bit hash;
/// a file is hashed at every offset, and a hash hit is confirmed against the clips' bytes.
/// </summary>
internal sealed class PcmScanner
{
    public const int RunBytes = 32;

    private readonly List<(string Name, byte[] Bytes)> _sources = [];
    private readonly HashSet<ulong> _runs = [];

    /// <summary>Indexes <paramref name="pcm"/> (named <paramref name="name"/>) in both encodings.</summary>
    public void Add(string name, ReadOnlySpan<short> pcm)
    {
        var pcm16 = new byte[pcm.Length * 2];
        var float32 = new byte[pcm.Length * 4];
        for (var i = 0; i < pcm.Length; i++)
        {
            BinaryPrimitives.WriteInt16LittleEndian(pcm16.AsSpan(2 * i), pcm[i]);
            BinaryPrimitives.WriteSingleLittleEndian(float32.AsSpan(4 * i), pcm[i]);
        }
        Index(name + " (PCM16)", pcm16, 2);
        Index(name + " (float32)", float32, 4);
    }

    public int Clips => _sources.Count / 2;

    /// <summary>Where a run of a clip occurs in <paramref name="file"/>: "file@offset: clip"; empty when none.</summary>
    public IEnumerable<string> Scan(string file)
    {
        var bytes = ReadShared(file);
        for (var offset = 0; offset + RunBytes <= bytes.Length; offset++)
        {
            var run = bytes.AsSpan(offset, RunBytes);
            if (!_runs.Contains(Hash(run))) continue;
            foreach (var (name, source) in _sources)
            {
                if (source.AsSpan().IndexOf(run) >= 0)
                {
                    yield return $"{file}@{offset}: {name}";
                    break;
                }
            }
        }
    }

    private void Index(string name, byte[] bytes, int stride)
    {
        _sources.Add((name, bytes));
        for (var offset = 0; offset + RunBytes <= bytes.Length; offset += stride) _runs.Add(Hash(bytes.AsSpan(offset, RunBytes)));
    }

    private static ulong Hash(ReadOnlySpan<byte> run)
    {
        var h = 0x9E3779B97F4A7C15UL;
        for (var i = 0; i < RunBytes; i += 8) h = BitOperations.RotateLeft((h ^ BinaryPrimitives.ReadUInt64LittleEndian(run[i..])) * 0xC2B2AE3D27D4EB4FUL, 29);
        return h;
    }

    // The store's files are open in the daemon (WAL mode): read them without taking a lock.
    private static byte[] ReadShared(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
