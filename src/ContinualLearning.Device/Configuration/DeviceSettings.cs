using Microsoft.Extensions.Configuration;

namespace ContinualLearning.Device.Configuration;

/// <summary>
/// device.json as the configuration binder sees it: one property per documented key (docs/device.md, "Configuration
/// reference"), bound by the binding source generator (no reflection: cl-device is native AOT). Values stay text here:
/// the binder stops at the first value it cannot convert, while the daemon reports every problem at once, so
/// <see cref="DeviceOptionsReader"/> converts them and maps them onto <see cref="DeviceOptions"/>.
/// </summary>
internal sealed class DeviceSettings
{
    public string? DeviceId { get; set; }

    public string? Fleet { get; set; }

    public string? ModelName { get; set; }

    public string? Cohort { get; set; }

    /// <summary><c>broker</c> itself is "host:port"; its children (<c>broker:tls</c>, …) are <see cref="Broker"/>.</summary>
    [ConfigurationKeyName("broker")]
    public string? BrokerAddress { get; set; }

    public BrokerSettings Broker { get; set; } = new();

    public string? FleetPublicKey { get; set; }

    public string? DataDirectory { get; set; }

    public string? Bundle { get; set; }

    public string? TransientStore { get; set; }

    public string? AllowPersistentStore { get; set; }

    public string? DeleteStoreOnStop { get; set; }

    public string? Engine { get; set; }

    public HttpSettings Http { get; set; } = new();

    public string? TelemetryIntervalSeconds { get; set; }

    public string? TrainCheckIntervalSeconds { get; set; }

    public string? ShutdownTimeoutSeconds { get; set; }

    public DeltaSettings Delta { get; set; } = new();

    public PrivacySettings Privacy { get; set; } = new();

    public LearningSettings Learning { get; set; } = new();

    public GpioSettings Gpio { get; set; } = new();

    public LoggingSettings Logging { get; set; } = new();

    public CommandsSettings Commands { get; set; } = new();

    public LimitsSettings Limits { get; set; } = new();
}

/// <summary><c>commands:*</c>.</summary>
internal sealed class CommandsSettings
{
    /// <summary>Comma-separated PEM public key files of the operators.</summary>
    public string? OperatorKeys { get; set; }

    public string? MaxLifetimeSeconds { get; set; }

    public string? ClockSkewSeconds { get; set; }
}

/// <summary><c>broker:*</c>.</summary>
internal sealed class BrokerSettings
{
    public string? Tls { get; set; }

    public string? TlsCaFile { get; set; }

    public string? TlsAllowUntrusted { get; set; }

    public string? TlsCertFile { get; set; }

    public string? TlsKeyFile { get; set; }

    public string? Username { get; set; }

    public string? Password { get; set; }
}

/// <summary><c>http:*</c>.</summary>
internal sealed class HttpSettings
{
    public string? Enabled { get; set; }

    public string? Port { get; set; }
}

/// <summary><c>delta:*</c>.</summary>
internal sealed class DeltaSettings
{
    public string? TopKFraction { get; set; }

    public string? Encoding { get; set; }

    public string? OutboxMaxFiles { get; set; }

    public string? OutboxMaxBytes { get; set; }
}

/// <summary><c>privacy:*</c>.</summary>
internal sealed class PrivacySettings
{
    public string? EpsilonBudget { get; set; }

    public string? Delta { get; set; }

    public string? NoiseMultiplier { get; set; }

    public string? ParticipationRate { get; set; }
}

/// <summary><c>learning:*</c>: the champion/challenger run, the learner and the sample store.</summary>
internal sealed class LearningSettings
{
    public string? MinSamples { get; set; }

    public string? MaxSamples { get; set; }

    public string? BatchSize { get; set; }

    public string? Epochs { get; set; }

    public string? ReplayRatio { get; set; }

    public string? HoldoutFraction { get; set; }

    public string? AccuracyMargin { get; set; }

    public string? Mode { get; set; }

    public string? Seed { get; set; }

    public string? AccuracyWindow { get; set; }

    public string? CompactHeap { get; set; }

    public string? ReplayCapacity { get; set; }

    public string? ReplayPolicy { get; set; }

    public string? MaxStoredSamples { get; set; }

    public string? SampleTtlMinutes { get; set; }

    public string? SampleSweepSeconds { get; set; }

    public string? EwcLambda { get; set; }

    public string? EwcSamples { get; set; }

    public string? AllowNewClasses { get; set; }

    public string? MaxClasses { get; set; }

    public string? ProximalMu { get; set; }

    public string? PersonalLayers { get; set; }

    public string? Clustering { get; set; }
}

/// <summary><c>gpio:*</c>.</summary>
internal sealed class GpioSettings
{
    public string? Enabled { get; set; }

    public string? Chip { get; set; }

    public string? LedPin { get; set; }

    public string? ButtonPin { get; set; }

    public string? Simulated { get; set; }
}

/// <summary><c>logging:*</c>.</summary>
internal sealed class LoggingSettings
{
    public string? Format { get; set; }
}

/// <summary><c>limits:*</c>.</summary>
internal sealed class LimitsSettings
{
    public string? SampleMaxBytes { get; set; }

    public string? ReleaseMaxBytes { get; set; }

    public string? ReleaseChunkMaxBytes { get; set; }

    public string? CommandMaxBytes { get; set; }

    public string? SamplesPerSecond { get; set; }

    public string? SampleBurst { get; set; }
}
