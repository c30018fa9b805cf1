using ContinualLearning.Drift;
using ContinualLearning.Replay;
using ContinualLearning.Triggers;

namespace ContinualLearning.Learning;

/// <summary>
/// Settings of a <see cref="ContinualLearner"/>. Only <see cref="ModelStoreDirectory"/> and (on first start)
/// <see cref="BaseBundlePath"/> are required; everything else has a device-sized default.
/// </summary>
public sealed record LearnerOptions
{
    /// <summary>Persistent directory holding the champion, previous and base bundles, CURRENT and decisions.jsonl.</summary>
    public required string ModelStoreDirectory { get; init; }

    /// <summary>
    /// A global release bundle installed as base and champion when the model store is empty. Ignored once the store
    /// holds a champion (the checkpoint wins, so a restart resumes local learning).
    /// </summary>
    public string? BaseBundlePath { get; init; }

    /// <summary>Transient sample database (tmpfs); null = the store's default path under /dev/shm or $XDG_RUNTIME_DIR.</summary>
    public string? StorePath { get; init; }

    /// <summary>Allow the sample database on persistent storage (development only).</summary>
    public bool AllowPersistentStore { get; init; }

    /// <summary>Delete the sample database when the learner is disposed (tests, one-shot runs).</summary>
    public bool DeleteStoreOnDispose { get; init; }

    /// <summary>
    /// Run a full compacting, decommitting GC just before and after each training run (off by default; the daemon turns
    /// it on). Runs are minutes apart and the live heap is a few MB, so it costs milliseconds; without it the garbage of
    /// an ingest burst and of the run itself stays committed, which on a small device is most of the RSS growth
    /// (docs/benchmarks.md, "Device footprint"). Processes hosting many learners (the demo) leave it off.
    /// </summary>
    public bool CompactHeapAroundRuns { get; init; }

    /// <summary>Sample rows kept in the transient store. Default 100,000.</summary>
    public int MaxStoredSamples { get; init; } = 100_000;

    /// <summary>Age after which unused samples expire. Default 24 h.</summary>
    public TimeSpan SampleTtl { get; init; } = TimeSpan.FromHours(24);

    /// <summary>How often expired samples are deleted without waiting for a run; null = the store's default (<see cref="ContinualLearning.Storage.SampleStoreOptions.ExpirySweepInterval"/>).</summary>
    public TimeSpan? SampleSweepInterval { get; init; }

    /// <summary>Replay buffer capacity (0 disables replay). Default 1,000.</summary>
    public int ReplayCapacity { get; init; } = 1_000;

    /// <summary>Which samples the replay buffer keeps. Default reservoir.</summary>
    public ReplayPolicyKind ReplayPolicy { get; init; } = ReplayPolicyKind.Reservoir;

    /// <summary>Champion/challenger settings (run size, batches, holdout, margin, stateful/stateless).</summary>
    public ChallengerOptions Challenger { get; init; } = new();

    /// <summary>
    /// When <see cref="ContinualLearner.MaybeTrainAsync"/> trains. Null = the default policy:
    /// drift (with at least <see cref="ChallengerOptions.MinSamples"/> new labels) or a 10-point accuracy drop over
    /// 200 predictions, or <see cref="ChallengerOptions.MaxSamples"/> new labels, or 6 hours — with a 1-minute cool-down.
    /// Triggers are stateful: give each learner its own instance.
    /// </summary>
    public ITrigger? Trigger { get; init; }

    /// <summary>Labelled predictions in the windowed (prequential) accuracy. Default 500.</summary>
    public int AccuracyWindow { get; init; } = 500;

    /// <summary>Error-stream drift detector factory; null = ADWIN(δ = 0.002).</summary>
    public Func<IDriftDetector>? DriftDetectorFactory { get; init; }

    /// <summary>Also watch the input distribution (PSI/KS per feature); null = off.</summary>
    public FeatureDriftOptions? FeatureDrift { get; init; }

    /// <summary>
    /// Creates the embedding extractor for a bundle with backbone.onnx (argument: its full path).
    /// Null = ContinualLearning.Onnx.OnnxBackbone (ONNX Runtime, one intra-op thread).
    /// </summary>
    public Func<string, IEmbeddingExtractor>? BackboneFactory { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid field.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ModelStoreDirectory))
            throw new ArgumentException("Learner option 'ModelStoreDirectory' is empty: set it to a persistent directory for checkpoints.", nameof(ModelStoreDirectory));
        if (AccuracyWindow < 1)
            throw new ArgumentException($"Learner option 'AccuracyWindow' = {AccuracyWindow} is invalid: must be at least 1.", nameof(AccuracyWindow));
        Challenger.Validate();
    }
}
