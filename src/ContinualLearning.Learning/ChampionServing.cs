using ContinualLearning.Bundle;
using ContinualLearning.Features;
using ContinualLearning.Onnx;
using ContinualLearning.Pipelines;
using ContinualLearning.Training;

namespace ContinualLearning.Learning;

/// <summary>What <see cref="ChampionServing.InferInto"/> wrote: each array holds its values in its first <c>…Count</c> elements.</summary>
internal readonly record struct Inference(float[] Normalized, int NormalizedCount, float[] Input, int InputCount, float[] Probabilities, int ProbabilityCount, string Version);

/// <summary>
/// The champion as served: its bundle, head model and input pipeline, swapped together under one lock so a
/// prediction never mixes two versions. The serving path (raw input → pipeline → head) lives here once, for
/// predictions and labelled samples alike.
/// </summary>
internal sealed class ChampionServing : IDisposable
{
    private readonly ITrainingEngine _engine;
    private readonly Func<string, IEmbeddingExtractor>? _backboneFactory;
    private readonly Lock _lock = new();
    private ModelBundle _champion;
    private IHeadModel _model;
    private IInputPipeline _pipeline;

    public ChampionServing(ITrainingEngine engine, Func<string, IEmbeddingExtractor>? backboneFactory, ModelBundle champion)
    {
        _engine = engine;
        _backboneFactory = backboneFactory;
        _pipeline = CreatePipeline(champion);
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
    /// Raw input → input pipeline → champion head, into buffers from <paramref name="buffer"/> (exact-size arrays for
    /// predictions, pooled ones for labelled samples that are only scored). A feature model also returns the
    /// normalised features (for feature drift); an audio model returns none (<c>NormalizedCount</c> 0, an empty array
    /// not from <paramref name="buffer"/>).
    /// </summary>
    /// <exception cref="FeatureValidationException">The raw input does not fit the model (wrong features, named features for an audio model, bad clip).</exception>
    public Inference InferInto(ReadOnlySpan<float> raw, IReadOnlyDictionary<string, float>? named, Func<int, float[]> buffer)
    {
        lock (_lock)
        {
            var embedding = _pipeline.OutputSize;
            float[] normalized = [];
            var normalizedCount = 0;
            float[] input;
            if (_pipeline is FeatureInputPipeline features)
            {
                normalizedCount = features.Features.Count;
                normalized = buffer(normalizedCount);
                if (named is null) features.Features.Normalize(raw, normalized.AsSpan(0, normalizedCount));
                else features.Features.Normalize(named, normalized.AsSpan(0, normalizedCount));
                input = buffer(embedding);
                features.EmbedNormalized(normalized.AsSpan(0, normalizedCount), input.AsSpan(0, embedding));
            }
            else
            {
                if (named is not null)
                    throw new FeatureValidationException(
                        $"Model {_champion.Manifest.Name} {_champion.Manifest.Version} takes {InputSchemaKind()} input, not named features; send the raw {InputSchemaKind()} (e.g. audio/wav).", null, -1, null);
                input = buffer(embedding);
                _pipeline.Embed(raw, input.AsSpan(0, embedding));
            }
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
            return new Inference(normalized, normalizedCount, input, embedding, output, binary ? 2 : outputSize, _champion.Manifest.Version);
        }
    }

    private string InputSchemaKind() => _champion.InputKind.ToString().ToLowerInvariant();

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

    /// <summary>Serves through <paramref name="pipeline"/> from now on (a release with a new backbone, stages or input).</summary>
    public void ReplacePipeline(IInputPipeline pipeline)
    {
        lock (_lock)
        {
            _pipeline.Dispose();
            _pipeline = pipeline;
        }
    }

    /// <summary>The bundle's input pipeline (<see cref="InputPipelineFactory"/>; feature backbones from the configured factory).</summary>
    /// <exception cref="BundleException">The backbone or stages do not produce what the manifest declares.</exception>
    public IInputPipeline CreatePipeline(ModelBundle bundle) => InputPipelineFactory.Create(bundle, _backboneFactory);

    public void Dispose()
    {
        lock (_lock)
        {
            _model.Dispose();
            _pipeline.Dispose();
        }
    }
}
