using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Fleet.Configuration;
using ContinualLearning.Fleet.Identity;

namespace ContinualLearning.Aggregator.Configuration;

/// <summary>
/// The rules <see cref="AggregatorOptions"/> must follow, keyed by their configuration keys (docs/aggregator.md). Run when
/// the configuration is read, by <see cref="AggregatorOptions.Validate"/> (so options built in code are held to the
/// same rules), and again by the host at start.
/// </summary>
internal sealed class AggregatorOptionsValidator() : ConfigurationValidator<AggregatorOptions>("aggregator")
{
    public static AggregatorOptionsValidator Instance { get; } = new();

    protected override void Check(AggregatorOptions options, ICollection<ConfigurationError> errors)
    {
        static string HowToSet(string key, string flag) =>
            $"set \"{key}\" in the config file, {AggregatorOptionsReader.EnvironmentPrefix}{key.ToUpperInvariant()} or {flag}";
        ConfigurationRules.Id(errors, "fleet", options.Fleet, HowToSet("fleet", "--fleet"));
        ConfigurationRules.Id(errors, "modelName", options.ModelName, HowToSet("modelName", "--model"));
        if (string.IsNullOrWhiteSpace(options.RegistryPath))
            errors.Add(new("registryPath", null, "is required", "give a directory for registry.db and artifacts (" + HowToSet("registryPath", "--registry") + ")"));
        if (options.RegistryConnectionString is { } connection && PostgresRegistryDatabase.Problem(connection) is { } problem)
            // The value itself is not echoed: it may hold a password.
            errors.Add(new("registry:connectionString", "(hidden)", problem, "give an Npgsql connection string such as \"Host=db1,db2;Database=cl;Username=cl;Target Session Attributes=read-write\" (the password from PGPASSWORD or a passfile)"));
        if (string.IsNullOrWhiteSpace(options.PrivateKeyPath))
            errors.Add(new("privateKeyPath", null, "is required", "point it at the fleet's release private key made by `cl keys new` (" + HowToSet("privateKeyPath", "--key") + ")"));
        else if (!File.Exists(options.PrivateKeyPath))
            errors.Add(new("privateKeyPath", options.PrivateKeyPath, "does not exist", "point it at the fleet's release private key made by `cl keys new`"));
        if (options.CommandKeyPath is { } commandKey && !File.Exists(commandKey))
            errors.Add(new("commandKeyPath", commandKey, "does not exist", "point it at an operator private key made by `cl keys new`, or remove it to sign commands with privateKeyPath"));
        CheckBroker(options, errors);
        ConfigurationRules.Positive(errors, "tick", options.Tick, options.Tick.ToString("c", null));
        CheckValidation(options.Validation, errors);
        CheckAggregation(options.Aggregation, errors);
        CheckPrivacy(options.Aggregation, options.Validation, errors);
        CheckClustering(options.ModelName, options.Aggregation.Clustering, errors);
        CheckRollout(options.Rollout, errors);
        CheckInboxAndRetention(options.Inbox, options.Retention, errors);
        if (options.Metrics.Listen is { } listen && !MetricsOptions.TryParseListen(listen, out _))
            errors.Add(new("metrics:listen", listen, "is not address:port",
                "use e.g. 127.0.0.1:9464 (0.0.0.0:9464 or [::]:9464 for every interface), or leave it unset to serve no /metrics and /health"));
        Console.ConsoleOptionsValidator.Check(options.Console, errors);
        if (options.Holdout is { } holdout)
        {
            if (holdout.CsvPath is { } csv && !File.Exists(csv))
                errors.Add(new("holdout:csvPath", csv, "does not exist", "point it at a CSV with the model's feature columns and a label column (for an audio or backbone model: the head inputs `cl holdout embed` writes), or remove the holdout section"));
            else if (holdout.CsvPath is null && holdout.Samples is null)
                errors.Add(new("holdout:csvPath", null, "is required when a holdout section is given", "set it, or remove the holdout section"));
            ConfigurationRules.Require(errors, !string.IsNullOrWhiteSpace(holdout.LabelColumn), "holdout:labelColumn", holdout.LabelColumn, "is empty", "name the CSV's label column, e.g. class");
            ConfigurationRules.Require(errors, double.IsFinite(holdout.Margin) && holdout.Margin >= 0, "holdout:margin", holdout.Margin, "must be a number ≥ 0", "use e.g. 0.01");
        }
    }

    private static void CheckBroker(AggregatorOptions options, ICollection<ConfigurationError> errors)
    {
        ConfigurationRules.Require(errors, !string.IsNullOrWhiteSpace(options.BrokerHost), "brokerHost", options.BrokerHost, "is empty", "use the broker's host name or address, e.g. 127.0.0.1");
        ConfigurationRules.Require(errors, options.BrokerPort is >= 1 and <= 65535, "brokerPort", options.BrokerPort, "is outside 1–65535", "use e.g. 1883 (8883 for TLS)");
        ConfigurationRules.Require(errors, !string.IsNullOrWhiteSpace(options.InstanceId), "instanceId", options.InstanceId, "is empty", "give each aggregator instance its own id, e.g. aggregator-1");
        FleetTlsFiles.Check(errors, "", options.Tls, options.TlsCaFile, options.TlsCertFile, options.TlsKeyFile);
        if (options.SharedSubscription)
            ConfigurationRules.Id(errors, "shareGroup", options.ShareGroup, "set the shared-subscription group name, e.g. aggregators");
    }

    private static void CheckValidation(ValidationOptions v, ICollection<ConfigurationError> errors)
    {
        ConfigurationRules.Require(errors, v.MaxStaleness >= 0, "validation:maxStaleness", v.MaxStaleness, "must be ≥ 0", "use e.g. 4 (0 accepts only deltas against the newest release)");
        ConfigurationRules.Require(errors, v.MaxNorm is null or > 0, "validation:maxNorm", v.MaxNorm, "must be > 0", "use e.g. 10, or null to turn the norm check off");
        ConfigurationRules.Require(errors, Enum.IsDefined(v.NormClipMode), "validation:normClipMode", v.NormClipMode, "is unknown", "use reject or clip");
        ConfigurationRules.Require(errors, v.MaxClockSkew >= TimeSpan.Zero, "validation:maxClockSkew", v.MaxClockSkew.ToString("c", null), "must be ≥ 0", "use e.g. 00:05:00 (how far ahead of the aggregator a device clock may run)");
        ConfigurationRules.Positive(errors, "validation:maxDeltaAge", v.MaxDeltaAge, v.MaxDeltaAge.ToString("c", null));
        ConfigurationRules.Require(errors, v.MaxNewClasses is >= 0 and <= ContinualLearning.Deltas.DeltaLabels.MaxCount, "validation:maxNewClasses", v.MaxNewClasses,
            $"must be in [0, {ContinualLearning.Deltas.DeltaLabels.MaxCount}]", "use e.g. 8 (0 refuses every delta that adds a class)");
    }

    private static void CheckAggregation(AggregationOptions a, ICollection<ConfigurationError> errors)
    {
        ConfigurationRules.Require(errors, a.BufferSize >= 1, "aggregation:bufferSize", a.BufferSize, "must be ≥ 1", "use e.g. 10");
        ConfigurationRules.Require(errors, a.MinDeltas >= 1, "aggregation:minDeltas", a.MinDeltas, "must be ≥ 1", "use e.g. 1");
        ConfigurationRules.Positive(errors, "aggregation:maxWait", a.MaxWait, a.MaxWait.ToString("c", null));
        ConfigurationRules.Require(errors, Enum.IsDefined(a.Strategy), "aggregation:strategy", a.Strategy, "is unknown", "use fed-avg, trimmed-mean, median, norm-clip, krum or multi-krum");
        ConfigurationRules.Require(errors, a.ServerLearningRate > 0 && double.IsFinite(a.ServerLearningRate), "aggregation:serverLearningRate", a.ServerLearningRate, "must be a finite number > 0", "use e.g. 1.0");
        ConfigurationRules.Require(errors, a.StalenessAlpha >= 0, "aggregation:stalenessAlpha", a.StalenessAlpha, "must be ≥ 0", "use e.g. 0.5 (0 turns the staleness discount off)");
        ConfigurationRules.Require(errors, a.StrategyOptions.TrimFraction is >= 0 and < 0.5, "aggregation:strategyOptions:trimFraction", a.StrategyOptions.TrimFraction, "must be in [0, 0.5)", "use e.g. 0.2");
        ConfigurationRules.Require(errors, a.StrategyOptions.ClipNorm > 0, "aggregation:strategyOptions:clipNorm", a.StrategyOptions.ClipNorm, "must be > 0", "use e.g. 1.0");
        ConfigurationRules.Require(errors, a.MaxSamplesPerDelta >= 1, "aggregation:maxSamplesPerDelta", a.MaxSamplesPerDelta, "must be ≥ 1", "use e.g. 10000 (the most samples one device's contribution to a round is weighted by)");
        ConfigurationRules.Require(errors, a.MinDevices >= 1, "aggregation:minDevices", a.MinDevices, "must be ≥ 1", "use e.g. 2 (1 lets a single device make a version)");
        ConfigurationRules.Require(errors, a.MaxPending >= a.BufferSize, "aggregation:maxPending", a.MaxPending, $"must be ≥ aggregation:bufferSize ({a.BufferSize})", "use e.g. 1000, or lower bufferSize");
        ConfigurationRules.Require(errors, a.MaxPendingPerDevice >= 1, "aggregation:maxPendingPerDevice", a.MaxPendingPerDevice, "must be ≥ 1", "use e.g. 20");
        ConfigurationRules.Require(errors, a.NewClassMinDevices >= 1, "aggregation:newClassMinDevices", a.NewClassMinDevices, "must be ≥ 1",
            "use e.g. 2 (the round uses the larger of this and aggregation:minDevices)");
        CheckKrumAndServerOptimizer(a, errors);
    }

    private static void CheckKrumAndServerOptimizer(AggregationOptions a, ICollection<ConfigurationError> errors)
    {
        var s = a.StrategyOptions;
        ConfigurationRules.Require(errors, s.ByzantineDevices >= 0, "aggregation:strategyOptions:byzantineDevices", s.ByzantineDevices, "must be ≥ 0",
            "use e.g. 1 (the devices of a round Krum assumes Byzantine)");
        ConfigurationRules.Require(errors, s.MultiKrumKeep >= 0, "aggregation:strategyOptions:multiKrumKeep", s.MultiKrumKeep, "must be ≥ 0",
            "use 0 for n − f, or the number of best-scored updates Multi-Krum averages");
        if (a.Strategy is StrategyKind.Krum or StrategyKind.MultiKrum && s.ByzantineDevices >= 0)
        {
            var needed = 2 * s.ByzantineDevices + 3;
            ConfigurationRules.Require(errors, a.MinDevices >= needed, "aggregation:minDevices", a.MinDevices,
                $"is below 2f + 3 = {needed}, the fewest devices {a.Strategy.ToText()} tolerates f = {s.ByzantineDevices} Byzantine devices with",
                $"raise aggregation:minDevices to {needed} or more, or lower aggregation:strategyOptions:byzantineDevices");
        }
        var o = a.ServerOptimizer;
        ConfigurationRules.Require(errors, Enum.IsDefined(o.Kind), "aggregation:serverOptimizer", o.Kind, "is unknown", "use sgd, fed-avg-m, fed-adam or fed-yogi");
        ConfigurationRules.Require(errors, o.Beta1 is >= 0 and < 1, "aggregation:serverOptimizerOptions:beta1", o.Beta1, "must be in [0, 1)", "use e.g. 0.9");
        ConfigurationRules.Require(errors, o.Beta2 is >= 0 and < 1, "aggregation:serverOptimizerOptions:beta2", o.Beta2, "must be in [0, 1)", "use e.g. 0.99");
        ConfigurationRules.Require(errors, o.Tau > 0 && double.IsFinite(o.Tau), "aggregation:serverOptimizerOptions:tau", o.Tau, "must be a finite number > 0", "use e.g. 0.001");
    }

    /// <summary>Central DP: the noise is calibrated to a weighted mean of clipped updates (docs/federated.md, "Differential privacy").</summary>
    private static void CheckPrivacy(AggregationOptions a, ValidationOptions v, ICollection<ConfigurationError> errors)
    {
        var p = a.Privacy;
        ConfigurationRules.Require(errors, p.NoiseMultiplier >= 0 && double.IsFinite(p.NoiseMultiplier), "aggregation:privacy:noiseMultiplier", p.NoiseMultiplier,
            "must be a finite number ≥ 0", "use e.g. 1.0, or 0 to turn the noise off");
        ConfigurationRules.Require(errors, p.Delta is > 0 and < 1, "aggregation:privacy:delta", p.Delta, "must be in (0, 1)", "use e.g. 1e-5 (below 1/number of devices)");
        if (!p.Enabled) return;
        ConfigurationRules.Require(errors, a.Strategy is Strategies.StrategyKind.FedAvg or Strategies.StrategyKind.NormClip, "aggregation:strategy", a.Strategy,
            "is not a weighted mean, and aggregation:privacy:noiseMultiplier > 0 adds noise calibrated to one", "use fed-avg or norm-clip, or set aggregation:privacy:noiseMultiplier to 0");
        ConfigurationRules.Require(errors, v.MaxNorm is not null, "validation:maxNorm", v.MaxNorm,
            "must be set when aggregation:privacy:noiseMultiplier > 0 (the noise is σ × this clip)", "use e.g. the median norm of honest updates");
        ConfigurationRules.Require(errors, v.MaxNewClasses == 0, "validation:maxNewClasses", v.MaxNewClasses,
            "must be 0 when aggregation:privacy:noiseMultiplier > 0 (rows of new classes would be released without noise)", "set validation:maxNewClasses to 0, or turn the noise off");
    }

    /// <summary>Concept-aware aggregation (docs/federated.md, "Concept-aware aggregation"); the thresholds are checked even while it is off, so turning it on cannot surprise.</summary>
    private static void CheckClustering(string modelName, Clustering.FleetClusteringOptions c, ICollection<ConfigurationError> errors)
    {
        const string Key = "aggregation:clustering:";
        var t = c.Thresholds;
        ConfigurationRules.Require(errors, t.MaxClusters is >= 1 and <= ContinualLearning.Deltas.ClusterNames.MaxCluster, Key + "maxClusters", t.MaxClusters,
            $"must be in [1, {ContinualLearning.Deltas.ClusterNames.MaxCluster}]", "use e.g. 8 (1 keeps a single model)");
        foreach (var (name, value) in new[] { ("driftMargin", t.DriftMargin), ("localMargin", t.LocalMargin), ("switchMargin", t.SwitchMargin), ("mergeDistance", t.MergeDistance) })
            ConfigurationRules.Require(errors, double.IsFinite(value) && value >= 0, Key + name, value, "must be a finite number ≥ 0 (nats of cross-entropy)", "use the default, e.g. 0.1 for driftMargin, 0.02 for mergeDistance");
        ConfigurationRules.Require(errors, double.IsFinite(t.LocalConfidence) && t.LocalConfidence >= 0, Key + "localConfidence", t.LocalConfidence,
            "must be a finite number ≥ 0 (standard errors of the local advantage; 0 ignores them)", "use the default 1 (one-sided ≈ 84 %) or 2 (≈ 97.7 %)");
        ConfigurationRules.Require(errors, t.GraceRounds >= 0, Key + "graceRounds", t.GraceRounds, "must be ≥ 0", "use e.g. 3");
        ConfigurationRules.Require(errors, t.CreationsPerRound >= 1, Key + "creationsPerRound", t.CreationsPerRound, "must be ≥ 1", "use e.g. 1");
        ConfigurationRules.Require(errors, t.MinSamples >= 1, Key + "minSamples", t.MinSamples, "must be ≥ 1", "use e.g. 32");
        ConfigurationRules.Require(errors, t.ReferenceRate is > 0 and <= 1, Key + "referenceRate", t.ReferenceRate, "must be in (0, 1]", "use e.g. 0.3");
        if (c.Enabled && !string.IsNullOrEmpty(modelName) && ContinualLearning.Deltas.ClusterNames.IsClusterModel(modelName))
            errors.Add(new("modelName", modelName, "ends in .c<number>, the name of a cluster model, and aggregation:clustering:enabled is true",
                $"serve the base model (e.g. '{ContinualLearning.Deltas.ClusterNames.Parse(modelName).BaseModel}'): its clusters are found from it; or rename the model"));
    }

    private static void CheckRollout(RolloutOptions o, ICollection<ConfigurationError> errors)
    {
        ConfigurationRules.Require(errors, o.CanaryFraction is >= 0 and <= 1, "rollout:canaryFraction", o.CanaryFraction, "must be in [0, 1]", "use e.g. 0.1");
        ConfigurationRules.Require(errors, double.IsFinite(o.AccuracyMargin), "rollout:accuracyMargin", o.AccuracyMargin, "must be a finite number", "use e.g. 0.02");
        ConfigurationRules.Positive(errors, "rollout:window", o.Window, o.Window.ToString("c", null));
        ConfigurationRules.Require(errors, o.MinReports >= 1, "rollout:minReports", o.MinReports, "must be ≥ 1", "use e.g. 3");
        ConfigurationRules.Require(errors, o.MinDevices >= 1, "rollout:minDevices", o.MinDevices, "must be ≥ 1", "use e.g. 2");
        ConfigurationRules.Require(errors, o.ChunkSize > 0, "rollout:chunkSize", o.ChunkSize, "must be > 0", "use e.g. 65536");
    }

    private static void CheckInboxAndRetention(InboxOptions i, RetentionOptions r, ICollection<ConfigurationError> errors)
    {
        ConfigurationRules.Require(errors, i.MaxDeltaBytes is null or > 0, "inbox:maxDeltaBytes", i.MaxDeltaBytes, "must be > 0", "use e.g. 16777216, or leave it unset for the bound derived from the model's head");
        ConfigurationRules.Positive(errors, "inbox:storageRetryDelay", i.StorageRetryDelay, i.StorageRetryDelay.ToString("c", null));
        ConfigurationRules.Require(errors, i.StorageRetryMaxDelay >= i.StorageRetryDelay, "inbox:storageRetryMaxDelay", i.StorageRetryMaxDelay, "must be ≥ inbox:storageRetryDelay", "use e.g. 00:05:00");
        ConfigurationRules.Require(errors, i.BatchMax is >= 1 and <= InboxOptions.MaxBatchMax, "inbox:batchMax", i.BatchMax, $"must be between 1 and {InboxOptions.MaxBatchMax}",
            $"use e.g. {InboxOptions.DefaultBatchMax} (deltas stored in one transaction and acknowledged after its commit), or 1 for one transaction per delta");
        ConfigurationRules.Require(errors, i.BatchLinger >= TimeSpan.Zero && i.BatchLinger <= TimeSpan.FromSeconds(1), "inbox:batchLinger", i.BatchLinger.ToString("c", null),
            "must be between 00:00:00 and 00:00:01 (every delta of a batch waits up to this long for its acknowledgement)", "use e.g. 00:00:00.002");
        ConfigurationRules.Require(errors, r.RejectionsMaxRows >= 1, "retention:rejectionsMaxRows", r.RejectionsMaxRows, "must be ≥ 1", "use e.g. 100000");
        ConfigurationRules.Positive(errors, "retention:rejectionsMaxAge", r.RejectionsMaxAge, r.RejectionsMaxAge.ToString("c", null));
        ConfigurationRules.Require(errors, r.RejectionBurst >= 1, "retention:rejectionBurst", r.RejectionBurst, "must be ≥ 1", "use e.g. 20");
        ConfigurationRules.Require(errors, double.IsFinite(r.RejectionsPerMinute) && r.RejectionsPerMinute > 0, "retention:rejectionsPerMinute", r.RejectionsPerMinute, "must be a finite number > 0", "use e.g. 6");
        ConfigurationRules.Require(errors, r.KeepVersions >= 1, "retention:keepVersions", r.KeepVersions, "must be ≥ 1", "use e.g. 10");
        ConfigurationRules.Positive(errors, "retention:interval", r.Interval, r.Interval.ToString("c", null));
    }
}
