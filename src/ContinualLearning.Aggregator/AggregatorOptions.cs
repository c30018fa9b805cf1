using ContinualLearning.Aggregator.Strategies;

namespace ContinualLearning.Aggregator;

/// <summary>What to do with a delta whose L2 norm is above <see cref="ValidationOptions.MaxNorm"/>.</summary>
public enum NormClipMode
{
    /// <summary>Reject the delta (reason "norm-too-large").</summary>
    Reject,

    /// <summary>Accept it, scaled down to the bound before aggregation.</summary>
    Clip,
}

/// <summary>Checks every delta must pass before it is buffered (docs/aggregator.md, "Validation").</summary>
public sealed record ValidationOptions
{
    /// <summary>Largest number of releases published since a delta's base version (S). 0 accepts only deltas against the newest release.</summary>
    public int MaxStaleness { get; init; } = 4;

    /// <summary>L2 bound on a delta; null disables the check.</summary>
    public double? MaxNorm { get; init; } = 10.0;

    public NormClipMode NormClipMode { get; init; } = NormClipMode.Reject;

    /// <summary>When set, only these device ids may contribute.</summary>
    public ISet<string>? AllowedDevices { get; init; }
}

/// <summary>When and how to aggregate (FedBuff-style buffering).</summary>
public sealed record AggregationOptions
{
    /// <summary>K: aggregate as soon as this many deltas are buffered.</summary>
    public int BufferSize { get; init; } = 10;

    /// <summary>T: aggregate whatever is buffered (at least <see cref="MinDeltas"/>) once the oldest buffered delta is this old.</summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Fewest deltas a time-triggered aggregation needs (at least 1).</summary>
    public int MinDeltas { get; init; } = 1;

    public StrategyKind Strategy { get; init; } = StrategyKind.FedAvg;

    public StrategyOptions StrategyOptions { get; init; } = new();

    /// <summary>η: new global = global + η · aggregated delta.</summary>
    public double ServerLearningRate { get; init; } = 1.0;

    /// <summary>α in the staleness discount 1/(1+s)^α.</summary>
    public double StalenessAlpha { get; init; } = 0.5;
}

/// <summary>How a new version reaches the fleet.</summary>
public sealed record RolloutOptions
{
    /// <summary>False releases every new version straight to "all" (e.g. several aggregator instances in a test, or a trusted lab fleet).</summary>
    public bool Canary { get; init; } = true;

    /// <summary>Fraction of known devices in the canary cohort, chosen by a hash of the device id (stable across rounds).</summary>
    public double CanaryFraction { get; init; } = 0.1;

    /// <summary>Explicit canary devices; when set it replaces <see cref="CanaryFraction"/>.</summary>
    public IReadOnlyList<string>? CanaryDevices { get; init; }

    /// <summary>Promote when canary accuracy ≥ control accuracy − margin.</summary>
    public double AccuracyMargin { get; init; } = 0.02;

    /// <summary>How long to collect canary/control telemetry before deciding.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Telemetry reports each cohort needs; with enough reports the decision is made before the window ends.</summary>
    public int MinReports { get; init; } = 3;

    /// <summary>Bytes per bundle chunk.</summary>
    public int ChunkSize { get; init; } = 64 * 1024;
}

/// <summary>Optional holdout gate: candidate vs current global on a labelled set.</summary>
public sealed record HoldoutOptions
{
    /// <summary>CSV with the model's feature columns and a label column (see <see cref="ContinualLearning.Streams.CsvStream"/>).</summary>
    public string? CsvPath { get; init; }

    public string LabelColumn { get; init; } = "class";

    /// <summary>In-memory samples (raw features in manifest order, class index); used instead of the CSV when set.</summary>
    public IReadOnlyList<ContinualLearning.Streams.Sample>? Samples { get; init; }

    /// <summary>The candidate is refused when its accuracy is below the current global's by more than this.</summary>
    public double Margin { get; init; } = 0.01;
}

/// <summary>Configuration of an <see cref="AggregatorService"/>. Immutable; <see cref="Configuration.AggregatorOptionsReader"/> reads it from file, environment and flags.</summary>
public sealed record AggregatorOptions
{
    public required string Fleet { get; init; }

    /// <summary>The model this aggregator serves (one model per instance).</summary>
    public required string ModelName { get; init; }

    /// <summary>Registry directory: registry.db and artifacts/sha256/.</summary>
    public required string RegistryPath { get; init; }

    /// <summary>PEM PKCS#8 private key of the fleet (<c>cl keys new</c>).</summary>
    public required string PrivateKeyPath { get; init; }

    public string BrokerHost { get; init; } = "127.0.0.1";

    public int BrokerPort { get; init; } = 1883;

    public string? Username { get; init; }

    public string? Password { get; init; }

    /// <summary>MQTT client id; it names the broker session, so each instance needs its own.</summary>
    public string InstanceId { get; init; } = "aggregator-" + Environment.MachineName.ToLowerInvariant();

    /// <summary>Subscribe through <c>$share/{ShareGroup}/…</c> so instances split the delta stream (Mosquitto yes; the embedded broker no).</summary>
    public bool SharedSubscription { get; init; }

    public string ShareGroup { get; init; } = "aggregators";

    public ValidationOptions Validation { get; init; } = new();

    public AggregationOptions Aggregation { get; init; } = new();

    public RolloutOptions Rollout { get; init; } = new();

    public HoldoutOptions? Holdout { get; init; }

    /// <summary>Acknowledgement, payload caps and storage-failure handling of the MQTT inbox.</summary>
    public InboxOptions Inbox { get; init; } = new();

    /// <summary>Bounds on the rejections table and on the artifacts and caches of old versions.</summary>
    public RetentionOptions Retention { get; init; } = new();

    /// <summary>How often the service checks its buffer and the rollout (also bounds reaction time to T).</summary>
    public TimeSpan Tick { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Throws <see cref="ContinualLearning.Fleet.Configuration.ConfigurationException"/> listing every rule these options break (<see cref="Configuration.AggregatorOptionsValidator"/>).</summary>
    public void Validate() => Configuration.AggregatorOptionsValidator.Instance.ThrowIfInvalid(this);
}
