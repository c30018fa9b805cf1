using ContinualLearning.Drift;
using ContinualLearning.Replay;
using ContinualLearning.Training;
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

    /// <summary>
    /// λ of the EWC penalty a challenger trains with (0 = off, the default). Before each stateful run the diagonal Fisher
    /// is estimated on <see cref="EwcSamples"/> replay-buffer samples at the champion's weights, and the challenger pays
    /// <c>λ/2 · Σ F_i (θ_i − θ_champion,i)²</c> for moving the weights the replayed classes depend on. Off by default so
    /// that a device that does not grow classes learns exactly as before; 100 is the value <c>cl experiment</c> measured
    /// (docs/experiments.md) and the one to start from when teaching new classes (docs/learning.md).
    /// </summary>
    public float EwcLambda { get; init; }

    /// <summary>Replay samples the Fisher diagonal is estimated on before each run (each costs one sample-gradient). Default 128.</summary>
    public int EwcSamples { get; init; } = DefaultEwcSamples;

    /// <summary>
    /// μ of FedProx's proximal term (0 = off, the default): a stateful challenger pays <c>μ/2 · ‖θ − θ_base‖²</c> for
    /// moving away from the installed global release its delta is measured against, which bounds how far devices whose
    /// data differ drift apart between rounds (<see cref="ProximalPenalty"/>; docs/federated.md, "FedProx"). Personal
    /// layers (<see cref="PersonalLayers"/>) pay no proximal term.
    /// </summary>
    public float ProximalMu { get; init; }

    /// <summary>
    /// How many of the head's last Linear layers stay on the device (0 = none, the default; 1 = the output layer, FedPer).
    /// The device trains the whole head and serves it, sends deltas of the shared layers only, and keeps its personal
    /// layers when a fleet release replaces the shared ones (docs/federated.md, "Personalisation").
    /// </summary>
    public int PersonalLayers { get; init; }

    /// <summary>Allow <see cref="ContinualLearner.AddClassAsync"/> to grow the champion's label set (default false).</summary>
    public bool AllowNewClasses { get; init; }

    /// <summary>The most classes a head may grow to with <see cref="ContinualLearner.AddClassAsync"/>. Default 64.</summary>
    public int MaxClasses { get; init; } = DefaultMaxClasses;

    /// <summary>Default of <see cref="MaxClasses"/>.</summary>
    public const int DefaultMaxClasses = 64;

    /// <summary>Default of <see cref="EwcSamples"/>.</summary>
    public const int DefaultEwcSamples = 128;

    /// <summary>The most personal layers accepted (the head must also keep one shared layer).</summary>
    public const int MaxPersonalLayers = 8;

    /// <summary>The largest <see cref="MaxClasses"/> accepted (a label set is part of every manifest and delta header).</summary>
    public const int MaxClassesLimit = 1024;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid field.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ModelStoreDirectory))
            throw new ArgumentException("Learner option 'ModelStoreDirectory' is empty: set it to a persistent directory for checkpoints.", nameof(ModelStoreDirectory));
        if (AccuracyWindow < 1)
            throw new ArgumentException($"Learner option 'AccuracyWindow' = {AccuracyWindow} is invalid: must be at least 1.", nameof(AccuracyWindow));
        if (!float.IsFinite(EwcLambda) || EwcLambda < 0)
            throw new ArgumentException($"Learner option 'EwcLambda' = {EwcLambda} is invalid: use 0 (off) or a finite positive number such as 100.", nameof(EwcLambda));
        if (EwcSamples is < 1 or > 100_000)
            throw new ArgumentException($"Learner option 'EwcSamples' = {EwcSamples} is invalid: use 1–100000 (e.g. 128).", nameof(EwcSamples));
        if (!float.IsFinite(ProximalMu) || ProximalMu < 0)
            throw new ArgumentException($"Learner option 'ProximalMu' = {ProximalMu} is invalid: use 0 (off) or a finite positive number such as 0.01.", nameof(ProximalMu));
        if (PersonalLayers is < 0 or > MaxPersonalLayers)
            throw new ArgumentException($"Learner option 'PersonalLayers' = {PersonalLayers} is invalid: use 0 (off) to {MaxPersonalLayers} (1 = the output layer).", nameof(PersonalLayers));
        if (MaxClasses is < 2 or > MaxClassesLimit)
            throw new ArgumentException($"Learner option 'MaxClasses' = {MaxClasses} is invalid: use 2–{MaxClassesLimit} (e.g. {DefaultMaxClasses}).", nameof(MaxClasses));
        Challenger.Validate();
    }
}
