using ContinualLearning.Aggregator.Optimizers;
using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Fleet.Configuration;
using Microsoft.Extensions.Configuration;

namespace ContinualLearning.Aggregator.Configuration;

/// <summary>
/// Reads <see cref="AggregatorOptions"/> the way the device reads its options (<see cref="LayeredConfiguration"/>): a JSON
/// file (<c>--config</c>, default <see cref="DefaultConfigPath"/> when it exists), then environment variables with prefix
/// <c>CL_AGGREGATOR_</c> (<c>CL_AGGREGATOR_AGGREGATION__BUFFERSIZE=20</c> sets <c>aggregation:bufferSize</c>), then
/// command-line flags — later layers win. Relative paths from the file are relative to the file, others to the
/// working directory. Every unreadable value and every rule violation is reported at once.
/// </summary>
public static class AggregatorOptionsReader
{
    public const string EnvironmentPrefix = "CL_AGGREGATOR_";

    public const string DefaultConfigPath = "/etc/continual-learning/aggregator.json";

    /// <summary>The rules the options must follow, for the host to check again at start.</summary>
    public static ConfigurationValidator<AggregatorOptions> Validator => AggregatorOptionsValidator.Instance;

    /// <summary>Builds the layered configuration. An explicitly given file must exist; the default one is optional.</summary>
    /// <param name="configPath">The <c>--config</c> file, or null for the default file when it exists.</param>
    /// <param name="flags">Values from flags, by configuration key, and the flag behind each.</param>
    /// <param name="environmentPrefix">The environment layer's prefix; null leaves the environment out (tests).</param>
    public static LayeredConfiguration Build(string? configPath, ConfigurationFlags? flags = null, string? environmentPrefix = EnvironmentPrefix) =>
        LayeredConfiguration.Build(new ConfigurationLayers("aggregator") { File = configPath, DefaultFile = DefaultConfigPath, EnvironmentPrefix = environmentPrefix, Flags = flags ?? new() });

    /// <summary>Reads and validates; throws <see cref="ConfigurationException"/> listing every problem.</summary>
    public static AggregatorOptions Read(LayeredConfiguration config) => ConfigurationReader.Read(config, Map, AggregatorOptionsValidator.Instance);

    private static AggregatorOptions Map(ConfigurationReader r)
    {
        var s = new AggregatorSettings();
        // The binding generator replaces this call with generated code for AggregatorSettings (no reflection).
        r.Layers.Configuration.Bind(s);
        var defaults = new AggregatorOptions { Fleet = "", ModelName = "", RegistryPath = "", PrivateKeyPath = "" };
        string? PathOf(string key, string? raw) => ConfigurationReader.Text(raw) is { } path ? r.Layers.ResolvePath(key, path) : null;

        var options = new AggregatorOptions
        {
            Fleet = ConfigurationReader.Text(s.Fleet) ?? "",
            ModelName = ConfigurationReader.Text(s.ModelName) ?? "",
            RegistryPath = PathOf("registryPath", s.RegistryPath) ?? "",
            RegistryConnectionString = ConfigurationReader.Text(s.Registry.ConnectionString),
            PrivateKeyPath = PathOf("privateKeyPath", s.PrivateKeyPath) ?? "",
            CommandKeyPath = PathOf("commandKeyPath", s.CommandKeyPath),
            BrokerHost = ConfigurationReader.Text(s.BrokerHost) ?? defaults.BrokerHost,
            BrokerPort = r.WholeNumber("brokerPort", s.BrokerPort, defaults.BrokerPort),
            Username = ConfigurationReader.Text(s.Username),
            Password = ConfigurationReader.Text(s.Password),
            Tls = r.Bool("tls", s.Tls, false),
            TlsCaFile = PathOf("tlsCaFile", s.TlsCaFile),
            TlsCertFile = PathOf("tlsCertFile", s.TlsCertFile),
            TlsKeyFile = PathOf("tlsKeyFile", s.TlsKeyFile),
            TlsAllowUntrusted = r.Bool("tlsAllowUntrusted", s.TlsAllowUntrusted, false),
            InstanceId = ConfigurationReader.Text(s.InstanceId) ?? defaults.InstanceId,
            SharedSubscription = r.Bool("sharedSubscription", s.SharedSubscription, defaults.SharedSubscription),
            ShareGroup = ConfigurationReader.Text(s.ShareGroup) ?? defaults.ShareGroup,
            Tick = r.Duration("tick", s.Tick, defaults.Tick),
            Validation = ReadValidation(r, s.Validation, defaults.Validation),
            Aggregation = ReadAggregation(r, s.Aggregation, defaults.Aggregation),
            Rollout = ReadRollout(r, s.Rollout, defaults.Rollout),
            Holdout = s.Holdout is { } h ? ReadHoldout(r, h, PathOf("holdout:csvPath", h.CsvPath)) : null,
            Inbox = ReadInbox(r, s.Inbox, defaults.Inbox),
            Retention = ReadRetention(r, s.Retention, defaults.Retention),
            Metrics = new MetricsOptions { Listen = ConfigurationReader.Text(s.Metrics.Listen) },
            Console = ReadConsole(r, s.Console, PathOf),
        };
        return options;
    }

    private static ValidationOptions ReadValidation(ConfigurationReader r, ValidationSettings s, ValidationOptions d) => new()
    {
        MaxStaleness = r.WholeNumber("validation:maxStaleness", s.MaxStaleness, d.MaxStaleness),
        MaxNorm = r.OptionalNumber("validation:maxNorm", s.MaxNorm, d.MaxNorm),
        NormClipMode = r.Enum("validation:normClipMode", s.NormClipMode, d.NormClipMode),
        // An empty JSON array reads as unset: configuration has no empty lists.
        AllowedDevices = s.AllowedDevices is { Count: > 0 } allowed ? new HashSet<string>(allowed, StringComparer.Ordinal) : d.AllowedDevices,
        MaxClockSkew = r.Duration("validation:maxClockSkew", s.MaxClockSkew, d.MaxClockSkew),
        MaxDeltaAge = r.Duration("validation:maxDeltaAge", s.MaxDeltaAge, d.MaxDeltaAge),
        MaxNewClasses = r.WholeNumber("validation:maxNewClasses", s.MaxNewClasses, d.MaxNewClasses),
    };

    private static AggregationOptions ReadAggregation(ConfigurationReader r, AggregationSettings s, AggregationOptions d) => new()
    {
        BufferSize = r.WholeNumber("aggregation:bufferSize", s.BufferSize, d.BufferSize),
        MaxWait = r.Duration("aggregation:maxWait", s.MaxWait, d.MaxWait),
        MinDeltas = r.WholeNumber("aggregation:minDeltas", s.MinDeltas, d.MinDeltas),
        Strategy = r.Enum("aggregation:strategy", s.Strategy, d.Strategy),
        StrategyOptions = new StrategyOptions
        {
            TrimFraction = r.Number("aggregation:strategyOptions:trimFraction", s.StrategyOptions.TrimFraction, d.StrategyOptions.TrimFraction),
            ClipNorm = r.Number("aggregation:strategyOptions:clipNorm", s.StrategyOptions.ClipNorm, d.StrategyOptions.ClipNorm),
            ByzantineDevices = r.WholeNumber("aggregation:strategyOptions:byzantineDevices", s.StrategyOptions.ByzantineDevices, d.StrategyOptions.ByzantineDevices),
            MultiKrumKeep = r.WholeNumber("aggregation:strategyOptions:multiKrumKeep", s.StrategyOptions.MultiKrumKeep, d.StrategyOptions.MultiKrumKeep),
        },
        ServerLearningRate = r.Number("aggregation:serverLearningRate", s.ServerLearningRate, d.ServerLearningRate),
        StalenessAlpha = r.Number("aggregation:stalenessAlpha", s.StalenessAlpha, d.StalenessAlpha),
        MaxSamplesPerDelta = r.WholeNumber("aggregation:maxSamplesPerDelta", s.MaxSamplesPerDelta, d.MaxSamplesPerDelta),
        MinDevices = r.WholeNumber("aggregation:minDevices", s.MinDevices, d.MinDevices),
        MaxPending = r.WholeNumber("aggregation:maxPending", s.MaxPending, d.MaxPending),
        MaxPendingPerDevice = r.WholeNumber("aggregation:maxPendingPerDevice", s.MaxPendingPerDevice, d.MaxPendingPerDevice),
        NewClassMinDevices = r.WholeNumber("aggregation:newClassMinDevices", s.NewClassMinDevices, d.NewClassMinDevices),
        Privacy = new Privacy.CentralPrivacyOptions
        {
            NoiseMultiplier = r.Number("aggregation:privacy:noiseMultiplier", s.Privacy.NoiseMultiplier, d.Privacy.NoiseMultiplier),
            Delta = r.Number("aggregation:privacy:delta", s.Privacy.Delta, d.Privacy.Delta),
        },
        ServerOptimizer = new ServerOptimizerOptions
        {
            Kind = r.Enum("aggregation:serverOptimizer", s.ServerOptimizer, d.ServerOptimizer.Kind),
            Beta1 = r.Number("aggregation:serverOptimizerOptions:beta1", s.ServerOptimizerOptions.Beta1, d.ServerOptimizer.Beta1),
            Beta2 = r.Number("aggregation:serverOptimizerOptions:beta2", s.ServerOptimizerOptions.Beta2, d.ServerOptimizer.Beta2),
            Tau = r.Number("aggregation:serverOptimizerOptions:tau", s.ServerOptimizerOptions.Tau, d.ServerOptimizer.Tau),
        },
        Clustering = ReadClustering(r, s.Clustering, d.Clustering),
    };

    private static Clustering.FleetClusteringOptions ReadClustering(ConfigurationReader r, ClusteringSettings s, Clustering.FleetClusteringOptions d) => new()
    {
        Enabled = r.Bool("aggregation:clustering:enabled", s.Enabled, d.Enabled),
        Thresholds = new Clustering.ClusteringOptions
        {
            MaxClusters = r.WholeNumber("aggregation:clustering:maxClusters", s.MaxClusters, d.Thresholds.MaxClusters),
            DriftMargin = r.Number("aggregation:clustering:driftMargin", s.DriftMargin, d.Thresholds.DriftMargin),
            LocalMargin = r.Number("aggregation:clustering:localMargin", s.LocalMargin, d.Thresholds.LocalMargin),
            LocalConfidence = r.Number("aggregation:clustering:localConfidence", s.LocalConfidence, d.Thresholds.LocalConfidence),
            SwitchMargin = r.Number("aggregation:clustering:switchMargin", s.SwitchMargin, d.Thresholds.SwitchMargin),
            MergeDistance = r.Number("aggregation:clustering:mergeDistance", s.MergeDistance, d.Thresholds.MergeDistance),
            GraceRounds = r.WholeNumber("aggregation:clustering:graceRounds", s.GraceRounds, d.Thresholds.GraceRounds),
            CreationsPerRound = r.WholeNumber("aggregation:clustering:creationsPerRound", s.CreationsPerRound, d.Thresholds.CreationsPerRound),
            MinSamples = r.WholeNumber("aggregation:clustering:minSamples", s.MinSamples, d.Thresholds.MinSamples),
            ReferenceRate = r.Number("aggregation:clustering:referenceRate", s.ReferenceRate, d.Thresholds.ReferenceRate),
        },
    };

    private static RolloutOptions ReadRollout(ConfigurationReader r, RolloutSettings s, RolloutOptions d) => new()
    {
        Canary = r.Bool("rollout:canary", s.Canary, d.Canary),
        CanaryFraction = r.Number("rollout:canaryFraction", s.CanaryFraction, d.CanaryFraction),
        CanaryDevices = s.CanaryDevices is { Count: > 0 } devices ? devices : d.CanaryDevices,
        AccuracyMargin = r.Number("rollout:accuracyMargin", s.AccuracyMargin, d.AccuracyMargin),
        Window = r.Duration("rollout:window", s.Window, d.Window),
        MinReports = r.WholeNumber("rollout:minReports", s.MinReports, d.MinReports),
        MinDevices = r.WholeNumber("rollout:minDevices", s.MinDevices, d.MinDevices),
        ChunkSize = r.WholeNumber("rollout:chunkSize", s.ChunkSize, d.ChunkSize),
    };

    private static InboxOptions ReadInbox(ConfigurationReader r, InboxSettings s, InboxOptions d) => new()
    {
        MaxDeltaBytes = r.OptionalWholeNumber<int>("inbox:maxDeltaBytes", s.MaxDeltaBytes, "use a whole number of bytes, or leave it unset for the bound derived from the model's head") ?? d.MaxDeltaBytes,
        StorageRetryDelay = r.Duration("inbox:storageRetryDelay", s.StorageRetryDelay, d.StorageRetryDelay),
        StorageRetryMaxDelay = r.Duration("inbox:storageRetryMaxDelay", s.StorageRetryMaxDelay, d.StorageRetryMaxDelay),
        BatchMax = r.WholeNumber("inbox:batchMax", s.BatchMax, d.BatchMax),
        BatchLinger = r.Duration("inbox:batchLinger", s.BatchLinger, d.BatchLinger),
    };

    private static RetentionOptions ReadRetention(ConfigurationReader r, RetentionSettings s, RetentionOptions d) => new()
    {
        RejectionsMaxRows = r.WholeNumber("retention:rejectionsMaxRows", s.RejectionsMaxRows, d.RejectionsMaxRows),
        RejectionsMaxAge = r.Duration("retention:rejectionsMaxAge", s.RejectionsMaxAge, d.RejectionsMaxAge),
        RejectionBurst = r.WholeNumber("retention:rejectionBurst", s.RejectionBurst, d.RejectionBurst),
        RejectionsPerMinute = r.Number("retention:rejectionsPerMinute", s.RejectionsPerMinute, d.RejectionsPerMinute),
        KeepVersions = r.WholeNumber("retention:keepVersions", s.KeepVersions, d.KeepVersions),
        Interval = r.Duration("retention:interval", s.Interval, d.Interval),
    };

    private static Console.ConsoleOptions ReadConsole(ConfigurationReader r, ConsoleSettings s, Func<string, string?, string?> pathOf)
    {
        var d = new Console.ConsoleOptions();
        return new()
        {
            Listen = ConfigurationReader.Text(s.Listen),
            AllowPlainHttp = r.Bool("console:allowPlainHttp", s.AllowPlainHttp, d.AllowPlainHttp),
            TlsCertificate = pathOf("console:tls:certificate", s.Tls.Certificate),
            TlsKey = pathOf("console:tls:key", s.Tls.Key),
            OperatorTokenFile = pathOf("console:operatorTokenFile", s.OperatorTokenFile),
            ClientCa = pathOf("console:clientCa", s.ClientCa),
            CommandKey = pathOf("console:commandKey", s.CommandKey),
            RolloutSampleInterval = r.Duration("console:rolloutSampleInterval", s.RolloutSampleInterval, d.RolloutSampleInterval),
            HistoryMaxAge = r.Duration("console:historyMaxAge", s.HistoryMaxAge, d.HistoryMaxAge),
            AuditMaxRows = r.WholeNumber("console:auditMaxRows", s.AuditMaxRows, d.AuditMaxRows),
            EventQueueLength = r.WholeNumber("console:eventQueueLength", s.EventQueueLength, d.EventQueueLength),
        };
    }

    private static HoldoutOptions ReadHoldout(ConfigurationReader r, HoldoutSettings s, string? csvPath)
    {
        var d = new HoldoutOptions();
        return new()
        {
            CsvPath = csvPath,
            LabelColumn = ConfigurationReader.Text(s.LabelColumn) ?? d.LabelColumn,
            Margin = r.Number("holdout:margin", s.Margin, d.Margin),
        };
    }
}
