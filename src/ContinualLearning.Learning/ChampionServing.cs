using ContinualLearning.Bundle;
using ContinualLearning.Features;
using ContinualLearning.Training;

namespace ContinualLearning.Learning;

/// <summary>What <see cref="ChampionServing.InferInto"/> wrote: each array holds its values in its first <c>…Count</c> elements.</summary>
internal readonly record struct Inference(float[] Normalized, int NormalizedCount, float[] Input, int InputCount, float[] Probabilities, int ProbabilityCount, string Version);

/// <summary>
/// The champion as served: its bundle, head model and embedding extractor, swapped together under one lock so a
/// prediction never mixes two versions. The serving path (normalise → embed → head) lives here once.
/// </summary>
internal sealed class ChampionServing : IDisposable
{
    private readonly ITrainingEngine _engine;
    private readonly Func<string, IEmbeddingExtractor>? _backboneFactory;
    private readonly Lock _lock = new();
    private ModelBundle _champion;
    private IHeadModel _model;
    private IEmbeddingExtractor _extractor;

    public ChampionServing(ITrainingEngine engine, Func<string, IEmbeddingExtractor>? backboneFactory, ModelBundle champion)
    {
        _engine = engine;
        _backboneFactory = backboneFactory;
        _extractor = CreateExtractor(champion);
        _model = engine.Create(champion.Head, champion.TrainingOptions, champion.HeadWeights);
        _champion = champion;
    }

    /// <summary>The champion's bundle as last swapped in.</summary>
    public ModelBundle Champion
    {
        get
        {
            lock (_lock) return _champion;
        }
    }

    /// <summary>
    /// Normalise → backbone embedding → champion head, into buffers from <paramref name="buffer"/> (exact-size arrays
    /// for predictions, pooled ones for labelled samples that are only scored).
    /// </summary>
    public Inference InferInto(ReadOnlySpan<float> raw, IReadOnlyDictionary<string, float>? named, Func<int, float[]> buffer)
    {
        lock (_lock)
        {
            var pipeline = _champion.Features;
            var normalized = buffer(pipeline.Count);
            if (named is null) pipeline.Normalize(raw, normalized.AsSpan(0, pipeline.Count));
            else pipeline.Normalize(named, normalized.AsSpan(0, pipeline.Count));
            var embedding = _extractor.EmbeddingSize;
            var input = buffer(embedding);
            _extractor.Embed(normalized.AsSpan(0, pipeline.Count), 1, input.AsSpan(0, embedding));
            // A single-output binary head gives P(label 1); report one probability per class like softmax does.
            var outputSize = _champion.Head.OutputSize;
            var binary = _champion.Labels is not null && outputSize == 1;
            var output = buffer(binary ? 2 : outputSize);
            _model.Predict(input.AsSpan(0, embedding), 1, output.AsSpan(0, outputSize));
            if (binary)
            {
                output[1] = output[0];
                output[0] = 1 - output[1];
            }
            return new Inference(normalized, pipeline.Count, input, embedding, output, binary ? 2 : outputSize, _champion.Manifest.Version);
        }
    }

    /// <summary>The served prediction for a logged sample: arg-max class and its name, or the values for regression.</summary>
    public Prediction ToPrediction(long id, float[] probabilities, string version)
    {
        var champion = _champion;
        var labels = champion.Labels;
        if (labels is null) return new Prediction(id, -1, null, probabilities, version);
        var index = ChallengerTrainer.PredictedClass(champion.Head, probabilities);
        return new Prediction(id, index, labels.NameOf(index), probabilities, version);
    }

    /// <summary>The champion's label set.</summary>
    /// <exception cref="InvalidOperationException">The champion is a regression model.</exception>
    public LabelMap RequireLabels()
    {
        var champion = _champion;
        return champion.Labels ?? throw new InvalidOperationException($"Model {champion.Manifest.Name} {champion.Manifest.Version} is a regression model: labels are values, not class names.");
    }

    /// <summary>Serves <paramref name="bundle"/> from now on; the old head model is disposed once no prediction uses it.</summary>
    public void Swap(ModelBundle bundle)
    {
        var model = _engine.Create(bundle.Head, bundle.TrainingOptions, bundle.HeadWeights);
        IHeadModel old;
        lock (_lock)
        {
            old = _model;
            _model = model;
            _champion = bundle;
        }
        old.Dispose();
    }

    /// <summary>Serves through <paramref name="extractor"/> from now on (a release with a new backbone or input).</summary>
    public void ReplaceExtractor(IEmbeddingExtractor extractor)
    {
        lock (_lock)
        {
            _extractor.Dispose();
            _extractor = extractor;
        }
    }

    /// <summary>The bundle's embedding extractor: identity without a backbone, else the configured backbone factory.</summary>
    /// <exception cref="BundleException">The backbone's input or output size does not match the manifest.</exception>
    public IEmbeddingExtractor CreateExtractor(ModelBundle bundle)
    {
        if (bundle.BackbonePath is null) return new IdentityEmbeddingExtractor(bundle.Features.Count);
        // Default: ONNX Runtime, one intra-op thread (devices have 1–4 cores and also train).
        var factory = _backboneFactory ?? (path => new ContinualLearning.Onnx.OnnxBackbone(path));
        var extractor = factory(bundle.BackbonePath);
        if (extractor.InputSize != bundle.Features.Count || extractor.EmbeddingSize != bundle.Head.InputSize)
            throw new BundleException($"Backbone {bundle.BackbonePath} maps {extractor.InputSize} → {extractor.EmbeddingSize} floats; the manifest needs {bundle.Features.Count} features → {bundle.Head.InputSize} head inputs.");
        return extractor;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _model.Dispose();
            _extractor.Dispose();
        }
    }
}
