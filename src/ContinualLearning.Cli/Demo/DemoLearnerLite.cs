using ContinualLearning.Features;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Cli.Demo;

/// <summary>Outcome of one challenger round.</summary>
/// <param name="Promoted">The challenger beat (or tied) the champion on the holdout and replaced it.</param>
/// <param name="ChampionAccuracy">Champion's holdout accuracy.</param>
/// <param name="ChallengerAccuracy">Challenger's holdout accuracy.</param>
/// <param name="TrainSamples">Fresh samples trained on.</param>
internal sealed record TrainRound(bool Promoted, double ChampionAccuracy, double ChallengerAccuracy, int TrainSamples);

/// <summary>
/// The device-side learning loop the demo needs: predict, collect labels, train a challenger on fresh ⊕ replay
/// micro-batches, promote it on a holdout, and rebase onto a new global version.
/// </summary>
/// <remarks>
/// FALLBACK: a minimal in-memory stand-in for <c>ContinualLearner</c> (branch wt-learning, transient SQLite store,
/// trigger policies, drift detectors), used by the demo while that class is not on this branch. It keeps the same
/// shape — champion/challenger, reservoir replay, promotion on a holdout — so swapping it is local to
/// <see cref="DemoDevice"/>.
/// </remarks>
internal sealed class DemoLearnerLite : IDisposable
{
    private const int ReplayCapacity = 600;
    private const double ReplayRatio = 0.25;
    private const int Epochs = 3;

    private readonly ITrainingEngine _engine;
    private readonly HeadSpec _head;
    private readonly TrainingOptions _options;
    private readonly int _batchSize;
    private readonly FeaturePipeline _features;
    private readonly Random _random;
    private readonly List<(float[] X, int Y)> _fresh = [];
    private readonly List<(float[] X, int Y)> _replay = [];
    private readonly float[] _probabilities = new float[2];
    private readonly float[] _normalised;
    private IHeadModel _champion;
    private long _replaySeen;

    public DemoLearnerLite(ITrainingEngine engine, ModelBundleView model, int trainEvery, int seed)
    {
        _engine = engine;
        _head = model.Head;
        _options = model.Options;
        _batchSize = model.BatchSize;
        _features = new FeaturePipeline(model.Schema);
        _normalised = new float[_features.Count];
        _random = new Random(seed);
        TrainEvery = trainEvery;
        _champion = engine.Create(_head, _options, model.Weights);
        BaseVersion = model.Version;
        BaseWeights = model.Weights;
    }

    public int TrainEvery { get; }

    /// <summary>The global version the champion descends from; deltas are relative to it.</summary>
    public string BaseVersion { get; private set; }

    public IReadOnlyList<NamedTensor> BaseWeights { get; private set; }

    public IReadOnlyList<NamedTensor> ChampionWeights => _champion.GetWeights();

    public bool ShouldTrain => _fresh.Count >= TrainEvery;

    /// <summary>Predicted class of a raw (un-normalised) sample.</summary>
    public int Predict(float[] raw) => Predict(_champion, raw);

    /// <summary>Predicted class of a raw sample under other weights (the canary's shadow of the previous version).</summary>
    public int Predict(IHeadModel model, float[] raw)
    {
        _features.Normalize(raw, _normalised);
        model.Predict(_normalised, 1, _probabilities);
        return _probabilities[1] > _probabilities[0] ? 1 : 0;
    }

    public IHeadModel CreateModel(IReadOnlyList<NamedTensor> weights) => _engine.Create(_head, _options, weights);

    public void AddLabelled(float[] raw, int label)
    {
        var x = new float[_features.Count];
        _features.Normalize(raw, x);
        _fresh.Add((x, label));
    }

    /// <summary>Trains a challenger from the champion on the fresh samples (3 of 4 for training, every 4th held out) plus replay.</summary>
    public TrainRound Train()
    {
        var train = new List<(float[] X, int Y)>();
        var holdout = new List<(float[] X, int Y)>();
        for (var i = 0; i < _fresh.Count; i++) (i % 4 == 3 ? holdout : train).Add(_fresh[i]);
        var replayCount = Math.Min(_replay.Count, (int)(train.Count * ReplayRatio / (1 - ReplayRatio)));
        for (var i = 0; i < replayCount; i++) train.Add(_replay[_random.Next(_replay.Count)]);

        using var challenger = _engine.Create(_head, _options, _champion.GetWeights());
        var width = _features.Count;
        var x = new float[_batchSize * width];
        var y = new float[_batchSize];
        for (var epoch = 0; epoch < Epochs; epoch++)
        {
            Shuffle(train);
            for (var start = 0; start + _batchSize <= train.Count; start += _batchSize)
            {
                for (var b = 0; b < _batchSize; b++)
                {
                    train[start + b].X.CopyTo(x, b * width);
                    y[b] = train[start + b].Y;
                }
                challenger.TrainStep(x, y, _batchSize);
            }
        }

        var championAccuracy = Accuracy(_champion, holdout);
        var challengerAccuracy = Accuracy(challenger, holdout);
        var promoted = challengerAccuracy >= championAccuracy;
        if (promoted) _champion.SetWeights(challenger.GetWeights());

        // Fresh samples are used once, then a reservoir sample of them stays as replay (Vitter's algorithm R).
        foreach (var s in _fresh)
        {
            _replaySeen++;
            if (_replay.Count < ReplayCapacity) _replay.Add(s);
            else if (_random.NextInt64(_replaySeen) is var j && j < ReplayCapacity) _replay[(int)j] = s;
        }
        var trained = _fresh.Count - holdout.Count;
        _fresh.Clear();
        return new TrainRound(promoted, championAccuracy, challengerAccuracy, trained);
    }

    /// <summary>Adopts a new global version as champion and as the base of future deltas.</summary>
    public void Rebase(string version, IReadOnlyList<NamedTensor> weights)
    {
        _champion.SetWeights(weights);
        BaseVersion = version;
        BaseWeights = weights.Select(w => w.Clone()).ToArray();
    }

    public void Dispose() => _champion.Dispose();

    private double Accuracy(IHeadModel model, List<(float[] X, int Y)> set)
    {
        if (set.Count == 0) return 0;
        var width = _features.Count;
        var x = new float[set.Count * width];
        for (var i = 0; i < set.Count; i++) set[i].X.CopyTo(x, i * width);
        var p = new float[set.Count * 2];
        model.Predict(x, set.Count, p);
        var correct = 0;
        for (var i = 0; i < set.Count; i++)
            if ((p[2 * i + 1] > p[2 * i] ? 1 : 0) == set[i].Y) correct++;
        return (double)correct / set.Count;
    }

    private void Shuffle<T>(List<T> list)
    {
        for (var i = list.Count - 1; i > 0; i--)
        {
            var j = _random.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }
}

/// <summary>The parts of a loaded bundle a learner needs.</summary>
internal sealed record ModelBundleView(string Version, HeadSpec Head, TrainingOptions Options, int BatchSize, Bundle.InputSchema Schema, IReadOnlyList<NamedTensor> Weights)
{
    public static ModelBundleView From(Bundle.ModelBundle bundle) => new(
        bundle.Manifest.Version, bundle.Head, bundle.TrainingOptions, bundle.Manifest.Training.BatchSize, bundle.Manifest.InputSchema, bundle.HeadWeights);
}
