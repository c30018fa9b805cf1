using System.Diagnostics;
using ContinualLearning.Bundle;
using ContinualLearning.Onnx;
using ContinualLearning.Pipelines;

namespace ContinualLearning.Experiments.Keywords;

/// <summary>
/// Every clip of a corpus embedded once through one <see cref="IInputPipeline"/> (the pipeline a bundle declares), in
/// manifest order. Embedded with <see cref="PoolMode.MeanMax"/> pooling — [mean | max] of the window embeddings — the
/// mean and max pools are its two halves, so one pass serves every pooling choice.
/// </summary>
public sealed class KeywordEmbeddings
{
    private readonly float[][] _vectors;

    private KeywordEmbeddings(KeywordCorpus corpus, float[][] vectors, PoolMode pool, TimeSpan elapsed)
    {
        Corpus = corpus;
        Pool = pool;
        _vectors = vectors;
        Elapsed = elapsed;
    }

    /// <summary>The corpus embedded.</summary>
    public KeywordCorpus Corpus { get; }

    /// <summary>How the pipeline pooled the window embeddings.</summary>
    public PoolMode Pool { get; }

    /// <summary>Time spent reading and embedding.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>Floats per embedding as the pipeline wrote them.</summary>
    public int Width => _vectors.Length == 0 ? 0 : _vectors[0].Length;

    /// <summary>Embeds every clip of <paramref name="corpus"/> with <paramref name="pipeline"/>, an audio pipeline ending in a <paramref name="pool"/> stage.</summary>
    public static KeywordEmbeddings Embed(KeywordCorpus corpus, IInputPipeline pipeline, PoolMode pool, IProgress<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(pipeline);
        if (pipeline.Kind != InputKind.Audio)
            throw new ArgumentException($"The keyword corpus is audio; the pipeline reads {pipeline.Kind}. Build it from an audio bundle.", nameof(pipeline));
        var watch = Stopwatch.StartNew();
        var vectors = new float[corpus.Clips.Count][];
        for (var i = 0; i < vectors.Length; i++)
        {
            vectors[i] = new float[pipeline.OutputSize];
            pipeline.Embed(corpus.Read(corpus.Clips[i]), vectors[i]);
            if ((i + 1) % 100 == 0) progress?.Report(i + 1);
        }
        progress?.Report(vectors.Length);
        return new KeywordEmbeddings(corpus, vectors, pool, watch.Elapsed);
    }

    /// <summary>
    /// Embeds every clip through the pipeline a speech bundle declares (<see cref="SpeechBundleBuilder"/>: the speech
    /// models in <paramref name="speechModelDirectory"/>, default <see cref="SpeechModels.Locate"/>), pooled with
    /// <paramref name="pool"/>. Only the pipeline is needed, so the bundle is a scratch one, deleted afterwards.
    /// </summary>
    /// <exception cref="FileNotFoundException">The speech models are missing (the message says how to get them).</exception>
    public static KeywordEmbeddings EmbedWithSpeechModels(KeywordCorpus corpus, PoolMode pool, IReadOnlyList<string> labels, string? speechModelDirectory = null, IProgress<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(labels);
        // Its stage files are the multi-megabyte speech models: a temporary folder, never left behind.
        var bundleDir = Path.Combine(Path.GetTempPath(), "cl-keywords-embedding-" + Guid.NewGuid().ToString("N"));
        try
        {
            SpeechBundleBuilder.Save(bundleDir, new SpeechBundleOptions { Name = "keywords-embedding", LabelNames = labels, Pool = pool, SpeechModelDirectory = speechModelDirectory });
            using var pipeline = InputPipelineFactory.Create(ModelBundle.Load(bundleDir));
            return Embed(corpus, pipeline, pool, progress);
        }
        finally
        {
            if (Directory.Exists(bundleDir)) Directory.Delete(bundleDir, recursive: true);
        }
    }

    /// <summary>Embeddings read back from a cache (<see cref="KeywordEmbeddingCache"/>), one vector per clip in manifest order.</summary>
    internal static KeywordEmbeddings FromVectors(KeywordCorpus corpus, float[][] vectors, PoolMode pool, TimeSpan elapsed)
    {
        if (vectors.Length != corpus.Clips.Count)
            throw new ArgumentException($"{vectors.Length} embeddings for {corpus.Clips.Count} clips; the cache does not belong to this corpus.", nameof(vectors));
        return new KeywordEmbeddings(corpus, vectors, pool, elapsed);
    }

    /// <summary>
    /// The head input of clip <paramref name="index"/> under <paramref name="pool"/>: the vector as embedded, or the mean
    /// or max half of a mean+max vector.
    /// </summary>
    /// <exception cref="ArgumentException">The clips were not embedded with <paramref name="pool"/> or mean+max.</exception>
    public float[] Vector(int index, PoolMode pool)
    {
        var v = _vectors[index];
        if (pool == Pool) return v;
        if (Pool != PoolMode.MeanMax)
            throw new ArgumentException($"The clips were embedded with {Pool} pooling; {pool} needs a pipeline pooling {pool} or MeanMax.", nameof(pool));
        var half = v.Length / 2;
        return pool == PoolMode.Mean ? v[..half] : v[half..];
    }
}
