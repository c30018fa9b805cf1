using ContinualLearning.Deltas;
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

    public string? Username { get; init; }

    public string? Password { get; init; }
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

    public string ModelStoreDirectory => Path.Combine(DataDirectory, "models");

    public string OutboxDirectory => Path.Combine(DataDirectory, "outbox");

    public string ReleasesDirectory => Path.Combine(DataDirectory, "releases");

    public string ErrorFeedbackPath => Path.Combine(DataDirectory, "error-feedback.safetensors");

    public string RuntimeOverridesPath => Path.Combine(DataDirectory, "runtime.json");

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
    };

    /// <summary>Checks every field; throws <see cref="DeviceConfigurationException"/> listing all problems at once.</summary>
    public DeviceOptions Validate()
    {
        var errors = new List<ConfigurationError>();
        void Id(string key, string? value)
        {
            if (string.IsNullOrEmpty(value))
                errors.Add(new(key, null, "is required", $"set \"{key}\" in the config file, CL_DEVICE_{EnvName(key)} or the matching flag"));
            else if (!ContinualLearning.Fleet.Topics.FleetTopics.IsValidId(value))
                errors.Add(new(key, value, "is not a valid id", "use 1–128 letters, digits, '-', '_' or '.' (no '/', '+', '#' or leading '$')"));
        }
        Id("deviceId", DeviceId);
        Id("fleet", Fleet);
        Id("modelName", ModelName);
        Id("cohort", Cohort);
        if (string.IsNullOrWhiteSpace(Broker.Host))
            errors.Add(new("broker", Broker.Host, "has no host", "use host:port, e.g. broker.local:8883"));
        if (Broker.Port is < 1 or > 65535)
            errors.Add(new("broker", $"{Broker.Host}:{Broker.Port}", "has a port outside 1–65535", "use host:port, e.g. broker.local:1883"));
        if (Broker.TlsCaFile is { } ca && !File.Exists(ca))
            errors.Add(new("broker:tlsCaFile", ca, "does not exist", "point it at the PEM file of the fleet CA, or remove it to use the system trust store"));
        if (Broker.Password is not null && Broker.Username is null)
            errors.Add(new("broker:password", "***", "is set without broker:username", "set broker:username too"));
        if (string.IsNullOrEmpty(FleetPublicKeyPath))
            errors.Add(new("fleetPublicKey", FleetPublicKeyPath, "is required", "point it at the fleet's release public key (PEM), e.g. /etc/continual-learning/fleet.pub"));
        else if (!File.Exists(FleetPublicKeyPath))
            errors.Add(new("fleetPublicKey", FleetPublicKeyPath, "does not exist", "copy the fleet's release public key (made by `cl model keygen`) there"));
        if (string.IsNullOrWhiteSpace(DataDirectory))
            errors.Add(new("dataDirectory", DataDirectory, "is empty", "set a persistent directory, e.g. /var/lib/continual-learning"));
        if (InitialBundle is { } bundle && !File.Exists(Path.Combine(bundle, "manifest.json")))
            errors.Add(new("bundle", bundle, "has no manifest.json", "point it at a model bundle directory (manifest.json + head.safetensors)"));
        if (!Enum.IsDefined(Engine))
            errors.Add(new("engine", Engine.ToString(), "is unknown", "use auto, managed or torch"));
        if (HttpPort is < 0 or > 65535)
            errors.Add(new("http:port", HttpPort.ToString(), "is outside 0–65535", "use a free port (8080 by default), 0 for any, or http:enabled=false"));
        Positive("telemetryIntervalSeconds", TelemetryInterval);
        Positive("trainCheckIntervalSeconds", TrainCheckInterval);
        Positive("shutdownTimeoutSeconds", ShutdownTimeout);
        Positive("learning:sampleTtlMinutes", SampleTtl);
        if (!(Delta.TopKFraction > 0 && Delta.TopKFraction <= 1))
            errors.Add(new("delta:topKFraction", Delta.TopKFraction.ToString(System.Globalization.CultureInfo.InvariantCulture), "is outside (0, 1]", "use e.g. 0.01 for 1 % of each tensor, 1 for dense"));
        if (Delta.OutboxMaxFiles < 1)
            errors.Add(new("delta:outboxMaxFiles", Delta.OutboxMaxFiles.ToString(), "must be at least 1", "use e.g. 256"));
        if (Delta.OutboxMaxBytes < 1024)
            errors.Add(new("delta:outboxMaxBytes", Delta.OutboxMaxBytes.ToString(), "must be at least 1024", "use e.g. 67108864 (64 MiB)"));
        if (AccuracyWindow < 1)
            errors.Add(new("learning:accuracyWindow", AccuracyWindow.ToString(), "must be at least 1", "use e.g. 500"));
        if (ReplayCapacity < 0)
            errors.Add(new("learning:replayCapacity", ReplayCapacity.ToString(), "must be 0 (off) or more", "use e.g. 1000"));
        if (MaxStoredSamples < 1)
            errors.Add(new("learning:maxStoredSamples", MaxStoredSamples.ToString(), "must be at least 1", "use e.g. 100000"));
        try
        {
            Challenger.Validate();
        }
        catch (ArgumentException ex)
        {
            errors.Add(new("learning:" + char.ToLowerInvariant((ex.ParamName ?? "?")[0]) + (ex.ParamName ?? "?")[1..], null, ex.Message, "see docs/device.md for the allowed range"));
        }
        if (Gpio.Enabled)
        {
            if (Gpio.LedPin is null && Gpio.ButtonPin is null)
                errors.Add(new("gpio:enabled", "true", "is on but neither gpio:ledPin nor gpio:buttonPin is set", "set the pin numbers, or gpio:enabled=false"));
            if (Gpio.LedPin is < 0 || Gpio.ButtonPin is < 0)
                errors.Add(new("gpio", $"led={Gpio.LedPin}, button={Gpio.ButtonPin}", "has a negative pin number", "use the BCM (logical) pin numbers"));
            if (Gpio.LedPin is { } led && led == Gpio.ButtonPin)
                errors.Add(new("gpio:buttonPin", led.ToString(), "is the same pin as gpio:ledPin", "wire the button to another pin"));
        }
        if (errors.Count > 0) throw new DeviceConfigurationException(errors);
        return this;

        void Positive(string key, TimeSpan value)
        {
            if (value <= TimeSpan.Zero)
                errors.Add(new(key, value.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "must be positive", "use a positive number"));
        }
    }

    internal static string EnvName(string key) => key.Replace(":", "__", StringComparison.Ordinal).ToUpperInvariant();
}

/// <summary>One configuration problem: which key, which value, what is wrong and what to do.</summary>
public sealed record ConfigurationError(string Key, string? Value, string Problem, string Fix)
{
    public override string ToString() => $"{Key} = {(Value is null ? "(not set)" : $"'{Value}'")}: {Problem}; {Fix}.";
}

/// <summary>The daemon's configuration is invalid; <see cref="Errors"/> lists every problem.</summary>
public sealed class DeviceConfigurationException : Exception
{
    public DeviceConfigurationException()
        : this([])
    {
    }

    public DeviceConfigurationException(string message)
        : base(message)
    {
        Errors = [];
    }

    public DeviceConfigurationException(string message, Exception innerException)
        : base(message, innerException)
    {
        Errors = [];
    }

    public DeviceConfigurationException(IReadOnlyList<ConfigurationError> errors)
        : base("Invalid device configuration:" + string.Concat(errors.Select(e => Environment.NewLine + "  - " + e)))
    {
        Errors = errors;
    }

    public IReadOnlyList<ConfigurationError> Errors { get; }
}
