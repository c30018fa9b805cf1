using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Identity;

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

    // Trust bounds (docs/aggregator.md, "One device cannot own a round").

    /// <summary>A delta created more than this after the aggregator's clock is refused (<c>future-timestamp</c>): the device clock is wrong or the date forged.</summary>
    public TimeSpan MaxClockSkew { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>A delta created longer ago than this is refused (<c>expired</c>).</summary>
    public TimeSpan MaxDeltaAge { get; init; } = TimeSpan.FromDays(7);

    /// <summary>Most classes one delta may add to its base release's labels (docs/aggregator.md, "Label alignment"); more is refused (<c>too-many-new-classes</c>).</summary>
    public int MaxNewClasses { get; init; } = 8;
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

    /// <summary>Trimmed mean unless the fleet opts out: robust to a minority of bad devices (docs/aggregator.md).</summary>
    public StrategyKind Strategy { get; init; } = StrategyKind.TrimmedMean;

    public StrategyOptions StrategyOptions { get; init; } = new();

    /// <summary>η: new global = global + η · aggregated delta (with a server optimiser: its learning rate).</summary>
    public double ServerLearningRate { get; init; } = 1.0;

    /// <summary>What turns the aggregate Δ into the step (docs/federated.md, "Server optimisers and Krum"); SGD (global += η·Δ) by default.</summary>
    public Optimizers.ServerOptimizerOptions ServerOptimizer { get; init; } = new();

    /// <summary>α in the staleness discount 1/(1+s)^α.</summary>
    public double StalenessAlpha { get; init; } = 0.5;

    // Trust bounds (docs/aggregator.md, "One device cannot own a round").

    /// <summary>Largest sample count a device's contribution to one round is weighted by (sample-weighted strategies); a device's own count is its claim, not a fact.</summary>
    public long MaxSamplesPerDelta { get; init; } = 10_000;

    /// <summary>Fewest distinct devices a round needs to make a version; with fewer the deltas stay buffered.</summary>
    public int MinDevices { get; init; } = 2;

    /// <summary>Most deltas buffered per model; beyond it a delta is refused (<c>pending-full</c>) until an aggregation frees room.</summary>
    public int MaxPending { get; init; } = 1_000;

    /// <summary>Most deltas buffered per device; beyond it the device's delta is refused (<c>device-quota</c>).</summary>
    public int MaxPendingPerDevice { get; init; } = 20;

    /// <summary>
    /// Fewest distinct devices that must contribute a class new to the fleet in one round for it to enter the release;
    /// never fewer than <see cref="MinDevices"/> (docs/aggregator.md, "Label alignment").
    /// </summary>
    public int NewClassMinDevices { get; init; } = 2;

    /// <summary>Central differential privacy: Gaussian noise on each round's aggregate (docs/federated.md, "Differential privacy").</summary>
    public Privacy.CentralPrivacyOptions Privacy { get; init; } = new();

    /// <summary>Concept-aware aggregation: several models per model name, one per cluster of devices (off by default).</summary>
    public Clustering.FleetClusteringOptions Clustering { get; init; } = new();
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

    /// <summary>Distinct known devices that must have reported in each cohort (the canary cohort needs at most its size); a device counts once however often it reports.</summary>
    public int MinDevices { get; init; } = 2;

    /// <summary>Bytes per bundle chunk.</summary>
    public int ChunkSize { get; init; } = 64 * 1024;
}

/// <summary>Optional holdout gate: candidate vs current global on a labelled set.</summary>
public sealed record HoldoutOptions
{
    /// <summary>
    /// The holdout CSV. For a model without an input pipeline: its feature columns and a label column (see
    /// <see cref="ContinualLearning.Streams.CsvStream"/>). For a model with one (audio, backbone): head inputs made by
    /// <c>cl holdout embed</c> with the release's own pipeline (columns e0…e{n−1} and the label column, see
    /// <see cref="Holdout.HoldoutEmbeddingsCsv"/>); the gate refuses one made by another pipeline.
    /// </summary>
    public string? CsvPath { get; init; }

    /// <summary>The CSV's label column (class names of the model).</summary>
    public string LabelColumn { get; init; } = "class";

    /// <summary>
    /// In-memory samples (class index), used instead of the CSV when set: raw features in manifest order for a model
    /// without an input pipeline, head inputs for a model with one.
    /// </summary>
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

    /// <summary>
    /// Registry directory: registry.db and artifacts/sha256/ (SQLite); with <see cref="RegistryConnectionString"/>, only
    /// this host's working directory (extracted bundles, build scratch).
    /// </summary>
    public required string RegistryPath { get; init; }

    /// <summary>
    /// PostgreSQL connection string (Npgsql keywords) of a registry shared by aggregators on several hosts; null keeps the
    /// embedded SQLite registry in <see cref="RegistryPath"/>. Never logged with its password.
    /// </summary>
    public string? RegistryConnectionString { get; init; }

    /// <summary>Where the registry is: PostgreSQL when <see cref="RegistryConnectionString"/> is set, else SQLite in <see cref="RegistryPath"/>.</summary>
    public RegistryLocation RegistryLocation =>
        RegistryConnectionString is { } connection ? RegistryLocation.Postgres(connection, RegistryPath) : RegistryLocation.Sqlite(RegistryPath);

    /// <summary>PEM PKCS#8 private key of the fleet (<c>cl keys new</c>).</summary>
    public required string PrivateKeyPath { get; init; }

    /// <summary>
    /// PEM PKCS#8 operator key that signs the aggregator's commands (the canary cohort's <c>set-config</c>); null signs
    /// them with <see cref="PrivateKeyPath"/>. Devices run them only when its public key is in their commands:operatorKeys.
    /// </summary>
    public string? CommandKeyPath { get; init; }

    public string BrokerHost { get; init; } = "127.0.0.1";

    public int BrokerPort { get; init; } = 1883;

    public string? Username { get; init; }

    public string? Password { get; init; }

    /// <summary>Connect to the broker with TLS (usually port 8883).</summary>
    public bool Tls { get; init; }

    /// <summary>PEM file with the CA(s) that sign the broker certificate (the fleet's ca.crt); null uses the system trust store.</summary>
    public string? TlsCaFile { get; init; }

    /// <summary>The aggregator's client certificate (<c>cl fleet cert aggregator NAME</c>); its CN <c>aggregator:NAME</c> is its broker username.</summary>
    public string? TlsCertFile { get; init; }

    /// <summary>The private key of <see cref="TlsCertFile"/> (PEM, mode 0600).</summary>
    public string? TlsKeyFile { get; init; }

    /// <summary>Development only: accept any broker certificate.</summary>
    public bool TlsAllowUntrusted { get; init; }

    /// <summary>The TLS settings for the MQTT client, loaded by <see cref="FleetTlsFiles"/>; null without <see cref="Tls"/>.</summary>
    public FleetTlsOptions? LoadTls() => Tls ? FleetTlsFiles.Load(TlsCaFile, TlsCertFile, TlsKeyFile, TlsAllowUntrusted) : null;

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

    /// <summary>The <c>/metrics</c> and <c>/health</c> endpoint (off by default).</summary>
    public MetricsOptions Metrics { get; init; } = new();

    /// <summary>The fleet console's API and page (off by default).</summary>
    public Console.ConsoleOptions Console { get; init; } = new();

    /// <summary>How often the service checks its buffer and the rollout (also bounds reaction time to T).</summary>
    public TimeSpan Tick { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Throws <see cref="ContinualLearning.Fleet.Configuration.ConfigurationException"/> listing every rule these options break (<see cref="Configuration.AggregatorOptionsValidator"/>).</summary>
    public void Validate() => Configuration.AggregatorOptionsValidator.Instance.ThrowIfInvalid(this);
}
