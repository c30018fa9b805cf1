using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using ContinualLearning.Onnx;
using ContinualLearning.Pipelines;

namespace ContinualLearning.Experiments.Keywords;

/// <summary>
/// A corpus's embeddings kept beside it (<c>embeddings-&lt;pool&gt;.bin</c> in the corpus folder), so a run that embeds
/// thousands of clips does it once. The file starts with a key — SHA-256 of the corpus's <c>corpus.json</c>, the
/// speech models' bytes, the pooling and the format — and is used only while the key matches: a regenerated corpus
/// or other speech models embed again. Written to a temporary file and renamed, so an interrupted write leaves no
/// file that looks complete.
/// </summary>
public static class KeywordEmbeddingCache
{
    private const int FormatVersion = 1;
    private const int KeyBytes = 32;

    /// <summary>The cache file of <paramref name="corpus"/> for <paramref name="pool"/>.</summary>
    public static string PathOf(KeywordCorpus corpus, PoolMode pool)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        return Path.Combine(corpus.Directory, $"embeddings-{pool.ToString().ToLowerInvariant()}.bin");
    }

    /// <summary>
    /// The embeddings of every clip: read from the cache when its key matches, else embedded through the speech
    /// pipeline (<see cref="KeywordEmbeddings.EmbedWithSpeechModels"/>) and cached. <c>Cached</c> says which.
    /// </summary>
    /// <exception cref="FileNotFoundException">The speech models are missing (the message says how to get them).</exception>
    public static (KeywordEmbeddings Embeddings, bool Cached) LoadOrEmbed(KeywordCorpus corpus, PoolMode pool, IReadOnlyList<string> labels, string? speechModelDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        var models = speechModelDirectory is { } dir ? SpeechModels.Locate(_ => dir) : SpeechModels.Locate();
        var key = Key(File.ReadAllBytes(Path.Combine(corpus.Directory, KeywordCorpusGenerator.SpecFile)),
            File.ReadAllBytes(Path.Combine(models, SpeechModels.MelSpectrogramFile)), File.ReadAllBytes(Path.Combine(models, SpeechModels.EmbeddingFile)), pool);
        var path = PathOf(corpus, pool);
        var watch = Stopwatch.StartNew();
        if (TryRead(path, key, corpus.Clips.Count) is { } vectors) return (KeywordEmbeddings.FromVectors(corpus, vectors, pool, watch.Elapsed), true);
        var embeddings = KeywordEmbeddings.EmbedWithSpeechModels(corpus, pool, labels, models);
        Write(path, key, [.. Enumerable.Range(0, corpus.Clips.Count).Select(i => embeddings.Vector(i, pool))]);
        return (embeddings, false);
    }

    /// <summary>What a cache file must start with to be used: the corpus, the models and the pooling it was made from.</summary>
    internal static byte[] Key(byte[] corpusJson, byte[] melModel, byte[] embeddingModel, PoolMode pool)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"keyword-embeddings v{FormatVersion} {pool}\n"));
        foreach (var part in new[] { corpusJson, melModel, embeddingModel })
        {
            sha.AppendData(SHA256.HashData(part));
        }
        return sha.GetHashAndReset();
    }

    /// <summary>The vectors of a cache file whose key and clip count match; null when absent, stale or truncated.</summary>
    internal static float[][]? TryRead(string path, byte[] key, int clips)
    {
        if (!File.Exists(path)) return null;
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < KeyBytes + 8 || !bytes.AsSpan(0, KeyBytes).SequenceEqual(key)) return null;
        var count = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(KeyBytes));
        var width = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(KeyBytes + 4));
        if (count != clips || width <= 0 || bytes.Length != KeyBytes + 8 + (long)count * width * sizeof(float)) return null;
        var vectors = new float[count][];
        var offset = KeyBytes + 8;
        for (var i = 0; i < count; i++, offset += width * sizeof(float))
        {
            vectors[i] = new float[width];
            for (var j = 0; j < width; j++) vectors[i][j] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(offset + j * sizeof(float)));
        }
        return vectors;
    }

    /// <summary>Writes the key, the count, the width and the vectors (little-endian floats) to a temporary file, then renames it.</summary>
    internal static void Write(string path, byte[] key, IReadOnlyList<float[]> vectors)
    {
        var width = vectors.Count == 0 ? 0 : vectors[0].Length;
        if (vectors.Any(v => v.Length != width)) throw new ArgumentException("Every embedding must have the same width.", nameof(vectors));
        var bytes = new byte[KeyBytes + 8 + vectors.Count * width * sizeof(float)];
        key.CopyTo(bytes, 0);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(KeyBytes), vectors.Count);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(KeyBytes + 4), width);
        var offset = KeyBytes + 8;
        foreach (var v in vectors)
        {
            foreach (var x in v)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(offset), x);
                offset += sizeof(float);
            }
        }
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        File.WriteAllBytes(temporary, bytes);
        File.Move(temporary, path, overwrite: true);
    }
}
