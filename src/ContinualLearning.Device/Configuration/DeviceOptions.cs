using ContinualLearning.Deltas;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Configuration;
using ContinualLearning.Fleet.Identity;
using ContinualLearning.Learning;
using ContinualLearning.Replay;

namespace ContinualLearning.Device.Configuration;

/// <summary>Which training engine the daemon uses.</summary>
public enum EngineChoice
{
    /// <summary>Torch where libtorch loads (x64), managed elsewhere (linux-arm64).</summary>
    Auto,

    /// <summary>Pure C# engine; runs everywhere .NET runs.</summary>
    Managed,

    /// <summary>TorchSharp engine; needs libtorch (not on linux-arm64).</summary>
    Torch,
}

/// <summary>Console log format.</summary>
public enum LogFormat
{
    /// <summary>Human-readable single lines.</summary>
    Text,

    /// <summary>One JSON object per line (for journald/Loki/Elastic shippers).</summary>
    Json,
}

/// <summary>MQTT broker connection.</summary>
public sealed record BrokerOptions
{
    public string Host { get; init; } = "127.0.0.1";

    public int Port { get; init; } = 1883;

    public bool Tls { get; init; }

    /// <summary>PEM file with the CA(s) that sign the broker certificate; null uses the system trust store.</summary>
    public string? TlsCaFile { get; init; }

    /// <summary>Development only: accept any broker certificate.</summary>
    public bool TlsAllowUntrusted { get; init; }

    /// <summary>The device's client certificate (PEM, from <c>cl device provision</c>); its CN, the device id, is its broker username.</summary>
    public string? TlsCertFile { get; init; }

    /// <summary>The private key of <see cref="TlsCertFile"/> (PEM, mode 0600).</summary>
    public string? TlsKeyFile { get; init; }

    public string? Username { get; init; }

    public string? Password { get; init; }

    /// <summary>The TLS settings for the MQTT client, loaded by <see cref="FleetTlsFiles"/>; null without <see cref="Tls"/>.</summary>
    public FleetTlsOptions? LoadTls() => Tls ? FleetTlsFiles.Load(TlsCaFile, TlsCertFile, TlsKeyFile, TlsAllowUntrusted) : null;
}

/// <summary>How promotions become deltas on the wire and how many may wait for the broker.</summary>
public sealed record DeltaOptions
{
    /// <summary>Top-k fraction per tensor, (0, 1]. Default 0.01 (1 %).</summary>
    public double TopKFraction { get; init; } = 0.01;

    public DeltaEncoding Encoding { get; init; } = DeltaEncoding.Int8;

    /// <summary>Most deltas kept in the on-disk outbox while the broker is unreachable. Default 256.</summary>
    public int OutboxMaxFiles { get; init; } = 256;

    /// <summary>Most bytes kept in the outbox. Default 64 MiB.</summary>
    public long OutboxMaxBytes { get; init; } = 64L * 1024 * 1024;

    public DeltaCompressionOptions Compression => new(TopKFraction, Encoding);
}

/// <summary>Status LED and label button pins (BCM/logical numbering). GPIO is off unless enabled.</summary>
public sealed record GpioOptions
{
    public bool Enabled { get; init; }

    /// <summary>gpiochip number for the libgpiod driver (0 on most boards, 4 on a Raspberry Pi 5).</summary>
    public int Chip { get; init; }

    /// <summary>Output pin of the status LED; null = no LED.</summary>
    public int? LedPin { get; init; }

    /// <summary>Input pin of the label button (to ground, internal pull-up); null = no button.</summary>
    public int? ButtonPin { get; init; }

    /// <summary>Use the in-memory simulated driver instead of hardware (demos, tests, machines without GPIO).</summary>
    public bool Simulated { get; init; }
}

/// <summary>Who may command the device and how long a command may live (<c>commands:*</c>, docs/device.md).</summary>
public sealed record CommandOptions
{
    /// <summary>PEM public keys (SPKI) of the operators whose signed commands the device runs; empty = it runs none.</summary>
    public IReadOnlyList<string> OperatorKeyFiles { get; init; } = [];

    /// <summary>Longest validity window (expiresAt − issuedAt) accepted. Default 10 minutes.</summary>
    public TimeSpan MaxLifetime { get; init; } = ContinualLearning.Fleet.Signing.CommandLimits.Default.MaxLifetime;

    /// <summary>Clock difference tolerated at both ends of a command's validity window. Default 30 s.</summary>
    public TimeSpan ClockSkew { get; init; } = ContinualLearning.Fleet.Signing.CommandLimits.Default.ClockSkew;

    /// <summary>The limits as the verifier takes them.</summary>
    public ContinualLearning.Fleet.Signing.CommandLimits Limits => new(MaxLifetime, ClockSkew);
}

/// <summary>
/// The daemon's validated, immutable settings. Build with <see cref="DeviceOptionsReader.Read"/> from configuration
/// (file + CL_DEVICE_ environment + flags) or with an object initialiser in tests, then <see cref="Validate"/>.
/// </summary>
public sealed record DeviceOptions
{
    public const string DefaultConfigPath = "/etc/continual-learning/device.json";

    /// <summary>This device's id: MQTT client id and topic level. Required.</summary>
    public required string DeviceId { get; init; }

    /// <summary>Fleet name (first topic level after "cl"). Required.</summary>
    public required string Fleet { get; init; }

    /// <summary>Model (bundle) name whose releases this device installs. Required.</summary>
    public required string ModelName { get; init; }

    /// <summary>Rollout cohort ("all", "canary", ...). Default "all". A set-config command can change it.</summary>
    public string Cohort { get; init; } = "all";

    public BrokerOptions Broker { get; init; } = new();

    /// <summary>PEM public key (SPKI) that release signatures must verify against. Required.</summary>
    public required string FleetPublicKeyPath { get; init; }

    /// <summary>Persistent directory: models/ (checkpoints), outbox/, releases/, error feedback, runtime overrides.</summary>
    public string DataDirectory { get; init; } = "/var/lib/continual-learning";

    /// <summary>A bundle directory installed as the first global version when the model store is empty.</summary>
    public string? InitialBundle { get; init; }

    /// <summary>Transient sample database (tmpfs); null = /dev/shm or $XDG_RUNTIME_DIR default.</summary>
    public string? TransientStorePath { get; init; }

    public bool AllowPersistentStore { get; init; }

    /// <summary>Delete the transient sample database when the daemon stops (tests, one-shot runs).</summary>
    public bool DeleteStoreOnStop { get; init; }

    public EngineChoice Engine { get; init; } = EngineChoice.Auto;

    /// <summary>Loopback HTTP port for /predict, /label, /health, /metrics; 0 picks a free port; null disables HTTP.</summary>
    public int? HttpPort { get; init; } = 8080;

    public TimeSpan TelemetryInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the trigger policy is checked (also after every label).</summary>
    public TimeSpan TrainCheckInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a stop waits for a training run to finish before cancelling it.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(20);

    public DeltaOptions Delta { get; init; } = new();

    /// <summary>The ε ledger of this device's contributions (<c>privacy:*</c>).</summary>
    public DevicePrivacyOptions Privacy { get; init; } = new();

    public ChallengerOptions Challenger { get; init; } = new();

    public int AccuracyWindow { get; init; } = 500;

    /// <summary>Compact the heap and return free memory to the OS around each training run (<c>learning:compactHeap</c>, default on; see <see cref="LearnerOptions.CompactHeapAroundRuns"/>).</summary>
    public bool CompactHeapAroundRuns { get; init; } = true;

    public int ReplayCapacity { get; init; } = 1_000;

    public ReplayPolicyKind ReplayPolicy { get; init; } = ReplayPolicyKind.Reservoir;

    public int MaxStoredSamples { get; init; } = 100_000;

    public TimeSpan SampleTtl { get; init; } = TimeSpan.FromHours(24);

    public GpioOptions Gpio { get; init; } = new();

    public LogFormat LogFormat { get; init; } = LogFormat.Text;

    /// <summary>Operator keys and command lifetime (<c>commands:*</c>).</summary>
    public CommandOptions Commands { get; init; } = new();

    /// <summary>Ids of the commands executed and not yet expired: at most once across restarts.</summary>
    public string ExecutedCommandsPath => Path.Combine(DataDirectory, "executed-commands.json");

    /// <summary>The sequence of the last release accepted: a replayed older release is refused across restarts.</summary>
    public string ReleaseSequencePath => Path.Combine(DataDirectory, "release-sequence.json");
    /// <summary>Payload caps per topic and the samples rate limit (<c>limits:*</c>).</summary>
    public DeviceLimits Limits { get; init; } = new();

    /// <summary>
    /// How often rows older than <see cref="SampleTtl"/> are deleted from the transient store (<c>learning:sampleSweepSeconds</c>);
    /// null = a quarter of the TTL, at most 5 minutes (<see cref="ContinualLearning.Storage.SampleStoreOptions.ExpirySweepInterval"/>).
    /// </summary>
    public TimeSpan? SampleSweepInterval { get; init; }

    /// <summary>λ of the EWC penalty in the device learner (<c>learning:ewcLambda</c>, 0 = off; see <see cref="LearnerOptions.EwcLambda"/>).</summary>
    public float EwcLambda { get; init; }

    /// <summary>Replay samples the EWC Fisher is estimated on before each run (<c>learning:ewcSamples</c>, default 128).</summary>
    public int EwcSamples { get; init; } = LearnerOptions.DefaultEwcSamples;

    /// <summary>Let <c>POST /classes</c> teach the model new classes (<c>learning:allowNewClasses</c>, default false).</summary>
    public bool AllowNewClasses { get; init; }

    /// <summary>The most classes a head may grow to on the device (<c>learning:maxClasses</c>, default 64).</summary>
    public int MaxClasses { get; init; } = LearnerOptions.DefaultMaxClasses;

    /// <summary>μ of FedProx's proximal term in the device learner (<c>learning:proximalMu</c>, 0 = off; see <see cref="LearnerOptions.ProximalMu"/>).</summary>
    public float ProximalMu { get; init; }

    /// <summary>The head's last Linear layers kept on the device (<c>learning:personalLayers</c>, 0 = off; see <see cref="LearnerOptions.PersonalLayers"/>).</summary>
    public int PersonalLayers { get; init; }

    /// <summary>
    /// Concept-aware aggregation (<c>learning:clustering</c>, default false): follow the fleet's signed cluster directory,
    /// serve and train from the assigned cluster's model and report every live cluster's loss with each delta
    /// (docs/federated.md, "Concept-aware aggregation").
    /// </summary>
    public bool Clustering { get; init; }

    /// <summary>The sequence of the last cluster directory applied: a replayed older directory is ignored across restarts.</summary>
    public string ClusterSequencePath => Path.Combine(DataDirectory, "cluster-sequence.json");

    public string ModelStoreDirectory => Path.Combine(DataDirectory, "models");

    public string OutboxDirectory => Path.Combine(DataDirectory, "outbox");

    public string ReleasesDirectory => Path.Combine(DataDirectory, "releases");

    public string ErrorFeedbackPath => Path.Combine(DataDirectory, "error-feedback.safetensors");

    public string RuntimeOverridesPath => Path.Combine(DataDirectory, "runtime.json");

    public string PrivacyLedgerPath => Path.Combine(DataDirectory, "privacy-ledger.json");

    /// <summary>The learner's settings derived from these options.</summary>
    public LearnerOptions ToLearnerOptions() => new()
    {
        ModelStoreDirectory = ModelStoreDirectory,
        BaseBundlePath = InitialBundle,
        StorePath = TransientStorePath,
        AllowPersistentStore = AllowPersistentStore,
        DeleteStoreOnDispose = DeleteStoreOnStop,
        MaxStoredSamples = MaxStoredSamples,
        SampleTtl = SampleTtl,
        ReplayCapacity = ReplayCapacity,
        ReplayPolicy = ReplayPolicy,
        Challenger = Challenger,
        AccuracyWindow = AccuracyWindow,
        CompactHeapAroundRuns = CompactHeapAroundRuns,
        SampleSweepInterval = SampleSweepInterval,
        EwcLambda = EwcLambda,
        EwcSamples = EwcSamples,
        AllowNewClasses = AllowNewClasses,
        MaxClasses = MaxClasses,
        ProximalMu = ProximalMu,
        PersonalLayers = PersonalLayers,
    };

    /// <summary>Checks every field (<see cref="DeviceOptionsValidator"/>); throws <see cref="ConfigurationException"/> listing all problems at once.</summary>
    public DeviceOptions Validate() => DeviceOptionsValidator.Instance.ThrowIfInvalid(this);
}
