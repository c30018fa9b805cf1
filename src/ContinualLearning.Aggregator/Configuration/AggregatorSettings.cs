namespace ContinualLearning.Aggregator.Configuration;

/// <summary>
/// aggregator.json as the configuration binder sees it: one property per key of docs/aggregator.md (the camelCase names of
/// <see cref="AggregatorOptions"/>), bound by the binding source generator. Values stay text, as on the device
/// (Device/Configuration/DeviceSettings): the binder stops at the first value it cannot convert, while the service reports
/// every problem at once, so <see cref="AggregatorOptionsReader"/> converts them.
/// </summary>
internal sealed class AggregatorSettings
{
    public string? Fleet { get; set; }

    public string? ModelName { get; set; }

    public string? RegistryPath { get; set; }

    public string? PrivateKeyPath { get; set; }

    public string? CommandKeyPath { get; set; }

    public string? BrokerHost { get; set; }

    public string? BrokerPort { get; set; }

    public string? Username { get; set; }

    public string? Password { get; set; }

    public string? Tls { get; set; }

    public string? TlsCaFile { get; set; }

    public string? TlsCertFile { get; set; }

    public string? TlsKeyFile { get; set; }

    public string? TlsAllowUntrusted { get; set; }

    public string? InstanceId { get; set; }

    public string? SharedSubscription { get; set; }

    public string? ShareGroup { get; set; }

    public string? Tick { get; set; }

    public ValidationSettings Validation { get; set; } = new();

    public AggregationSettings Aggregation { get; set; } = new();

    public RolloutSettings Rollout { get; set; } = new();

    public InboxSettings Inbox { get; set; } = new();

    public RegistrySettings Registry { get; set; } = new();

    public RetentionSettings Retention { get; set; } = new();

    public MetricsSettings Metrics { get; set; } = new();

    public ConsoleSettings Console { get; set; } = new();

    /// <summary>Null when the configuration has no <c>holdout</c> section (no holdout gate).</summary>
    public HoldoutSettings? Holdout { get; set; }
}

/// <summary><c>validation:*</c>.</summary>
internal sealed class ValidationSettings
{
    public string? MaxStaleness { get; set; }

    public string? MaxNorm { get; set; }

    public string? NormClipMode { get; set; }

    public List<string>? AllowedDevices { get; set; }

    public string? MaxClockSkew { get; set; }

    public string? MaxDeltaAge { get; set; }

    public string? MaxNewClasses { get; set; }
}

/// <summary><c>aggregation:*</c>.</summary>
internal sealed class AggregationSettings
{
    public string? BufferSize { get; set; }

    public string? MaxWait { get; set; }

    public string? MinDeltas { get; set; }

    public string? Strategy { get; set; }

    public StrategySettings StrategyOptions { get; set; } = new();

    public string? ServerLearningRate { get; set; }

    public string? StalenessAlpha { get; set; }

    public string? MaxSamplesPerDelta { get; set; }

    public string? MinDevices { get; set; }

    public string? MaxPending { get; set; }

    public string? MaxPendingPerDevice { get; set; }

    public string? NewClassMinDevices { get; set; }

    public PrivacySettings Privacy { get; set; } = new();

    public string? ServerOptimizer { get; set; }

    public ServerOptimizerSettings ServerOptimizerOptions { get; set; } = new();

    public ClusteringSettings Clustering { get; set; } = new();
}

/// <summary><c>aggregation:clustering:*</c>.</summary>
internal sealed class ClusteringSettings
{
    public string? Enabled { get; set; }

    public string? MaxClusters { get; set; }

    public string? DriftMargin { get; set; }

    public string? LocalMargin { get; set; }

    public string? LocalConfidence { get; set; }

    public string? SwitchMargin { get; set; }

    public string? MergeDistance { get; set; }

    public string? GraceRounds { get; set; }

    public string? CreationsPerRound { get; set; }

    public string? MinSamples { get; set; }

    public string? ReferenceRate { get; set; }
}

/// <summary><c>aggregation:privacy:*</c>.</summary>
internal sealed class PrivacySettings
{
    public string? NoiseMultiplier { get; set; }

    public string? Delta { get; set; }
}

/// <summary><c>aggregation:serverOptimizerOptions:*</c>.</summary>
internal sealed class ServerOptimizerSettings
{
    public string? Beta1 { get; set; }

    public string? Beta2 { get; set; }

    public string? Tau { get; set; }
}

/// <summary><c>aggregation:strategyOptions:*</c>.</summary>
internal sealed class StrategySettings
{
    public string? TrimFraction { get; set; }

    public string? ClipNorm { get; set; }

    public string? ByzantineDevices { get; set; }

    public string? MultiKrumKeep { get; set; }
}

/// <summary><c>rollout:*</c>.</summary>
internal sealed class RolloutSettings
{
    public string? Canary { get; set; }

    public string? CanaryFraction { get; set; }

    public List<string>? CanaryDevices { get; set; }

    public string? AccuracyMargin { get; set; }

    public string? Window { get; set; }

    public string? MinReports { get; set; }

    public string? MinDevices { get; set; }

    public string? ChunkSize { get; set; }
}

/// <summary><c>holdout:*</c>.</summary>
internal sealed class HoldoutSettings
{
    public string? CsvPath { get; set; }

    public string? LabelColumn { get; set; }

    public string? Margin { get; set; }
}

/// <summary><c>inbox:*</c>.</summary>
internal sealed class InboxSettings
{
    public string? MaxDeltaBytes { get; set; }

    public string? StorageRetryDelay { get; set; }

    public string? StorageRetryMaxDelay { get; set; }

    public string? BatchMax { get; set; }

    public string? BatchLinger { get; set; }
}

/// <summary><c>retention:*</c>.</summary>
internal sealed class RetentionSettings
{
    public string? RejectionsMaxRows { get; set; }

    public string? RejectionsMaxAge { get; set; }

    public string? RejectionBurst { get; set; }

    public string? RejectionsPerMinute { get; set; }

    public string? KeepVersions { get; set; }

    public string? Interval { get; set; }
}

internal sealed class RegistrySettings
{
    public string? ConnectionString { get; set; }
}

/// <summary><c>metrics:*</c>.</summary>
internal sealed class MetricsSettings
{
    public string? Listen { get; set; }
}

/// <summary><c>console:*</c>.</summary>
internal sealed class ConsoleSettings
{
    public string? Listen { get; set; }

    public string? AllowPlainHttp { get; set; }

    public ConsoleTlsSettings Tls { get; set; } = new();

    public string? OperatorTokenFile { get; set; }

    public string? ClientCa { get; set; }

    public string? CommandKey { get; set; }

    public string? RolloutSampleInterval { get; set; }

    public string? HistoryMaxAge { get; set; }

    public string? AuditMaxRows { get; set; }

    public string? EventQueueLength { get; set; }
}

/// <summary><c>console:tls:*</c>.</summary>
internal sealed class ConsoleTlsSettings
{
    public string? Certificate { get; set; }

    public string? Key { get; set; }
}
