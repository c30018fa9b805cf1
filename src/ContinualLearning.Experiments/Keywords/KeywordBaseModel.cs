using ContinualLearning.Bundle;
using ContinualLearning.Onnx;
using ContinualLearning.Training;

namespace ContinualLearning.Experiments.Keywords;

/// <summary>What <see cref="KeywordBaseModel.Create"/> wrote.</summary>
/// <param name="Directory">The bundle folder.</param>
/// <param name="Manifest">The manifest as written.</param>
/// <param name="TrainClips">Clips the head was trained on.</param>
/// <param name="TrainAccuracy">Accuracy of the saved head on those clips (a sanity check, not a held-out figure).</param>
public sealed record KeywordBaseModelResult(string Directory, ModelManifest Manifest, int TrainClips, double TrainAccuracy);

/// <summary>
/// A real audio base bundle for keyword spotting: the speech pipeline (<see cref="SpeechBundleBuilder"/>) and a head
/// trained on the clean clips of some voice families and words. The clips are embedded by the pipeline of the bundle
/// itself (<see cref="InputPipelineFactory.Create"/>), so the head learns exactly what the device will feed it.
/// </summary>
public static class KeywordBaseModel
{
    /// <summary>
    /// Trains on the clean clips of <paramref name="families"/> saying <paramref name="words"/> (the label order) and
    /// writes the bundle to <paramref name="directory"/> (replaced if present). <paramref name="options"/> gives the
    /// pooling, head size, epochs and learning rate (default: the experiment's); <paramref name="sign"/> signs the manifest.
    /// </summary>
    /// <exception cref="ArgumentException">The corpus has no clips of a family or word.</exception>
    /// <exception cref="FileNotFoundException">The speech models are missing.</exception>
    public static KeywordBaseModelResult Create(KeywordCorpus corpus, IReadOnlyCollection<string> families, IReadOnlyList<string> words, string directory,
        KeywordOptions? options = null, int seed = 1, string name = "keywords", string version = "1.0.0", Func<ModelManifest, string?>? sign = null)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(families);
        ArgumentNullException.ThrowIfNull(words);
        options ??= new KeywordOptions();
        var clips = corpus.Clips.Where(c => c.IsClean && families.Contains(c.Accent) && words.Contains(c.Word)).ToList();
        var missing = words.Where(w => !clips.Any(c => c.Word == w)).Concat(families.Where(f => !clips.Any(c => c.Accent == f))).ToList();
        if (missing.Count > 0)
            throw new ArgumentException($"The corpus in {corpus.Directory} has no clean clips of {string.Join(", ", missing)}; pick words and voice families it holds.", nameof(words));

        var bundleOptions = new SpeechBundleOptions
        {
            Name = name,
            Version = version,
            LabelNames = words,
            HiddenSizes = options.Hidden,
            Pool = options.Pool,
            Seed = seed,
            Sign = sign,
        };
        // First an untrained bundle: its pipeline embeds the training clips, so training and serving share the stages.
        SpeechBundleBuilder.Save(directory, bundleOptions, overwrite: true);
        var bundle = ModelBundle.Load(directory);
        var subset = corpus with { Clips = clips };
        KeywordEmbeddings embeddings;
        using (var pipeline = InputPipelineFactory.Create(bundle))
            embeddings = KeywordEmbeddings.Embed(subset, pipeline, options.Pool);
        var rows = clips.Select((c, i) => new LabelledRow(embeddings.Vector(i, options.Pool), KeywordRows.IndexOf(words, c.Word))).ToList();
        var engine = new ManagedEngine();
        var weights = KeywordTraining.TrainBase(engine, bundle.Head, rows, options, seed);
        var manifest = SpeechBundleBuilder.Save(directory, bundleOptions with { HeadWeights = weights }, overwrite: true);
        return new KeywordBaseModelResult(Path.GetFullPath(directory), manifest, rows.Count, KeywordTraining.Accuracy(engine, bundle.Head, weights, rows));
    }
}
