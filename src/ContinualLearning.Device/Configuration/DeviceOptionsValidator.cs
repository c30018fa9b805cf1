using System.Globalization;
using ContinualLearning.Fleet.Configuration;
using ContinualLearning.Fleet.Identity;
using ContinualLearning.Learning;

namespace ContinualLearning.Device.Configuration;

/// <summary>
/// The rules <see cref="DeviceOptions"/> must follow, keyed by their configuration keys (docs/device.md). Run when the
/// configuration is read, by <see cref="DeviceOptions.Validate"/>, and again by the host at start.
/// </summary>
internal sealed class DeviceOptionsValidator() : ConfigurationValidator<DeviceOptions>("device")
{
    public static DeviceOptionsValidator Instance { get; } = new();

    protected override void Check(DeviceOptions options, ICollection<ConfigurationError> errors)
    {
        static string HowToSet(string key) =>
            $"set \"{key}\" in the config file, {DeviceOptionsReader.EnvironmentPrefix}{key.Replace(":", "__", StringComparison.Ordinal).ToUpperInvariant()} or the matching flag";
        ConfigurationRules.Id(errors, "deviceId", options.DeviceId, HowToSet("deviceId"));
        ConfigurationRules.Id(errors, "fleet", options.Fleet, HowToSet("fleet"));
        ConfigurationRules.Id(errors, "modelName", options.ModelName, HowToSet("modelName"));
        ConfigurationRules.Id(errors, "cohort", options.Cohort, HowToSet("cohort"));
        CheckBroker(options.Broker, errors);
        if (string.IsNullOrEmpty(options.FleetPublicKeyPath))
            errors.Add(new("fleetPublicKey", null, "is required", "point it at the fleet's release public key (PEM), e.g. /etc/continual-learning/fleet.pub"));
        else if (!File.Exists(options.FleetPublicKeyPath))
            errors.Add(new("fleetPublicKey", options.FleetPublicKeyPath, "does not exist", "copy the fleet's release public key (made by `cl model keygen`) there"));
        if (string.IsNullOrWhiteSpace(options.DataDirectory))
            errors.Add(new("dataDirectory", options.DataDirectory, "is empty", "set a persistent directory, e.g. /var/lib/continual-learning"));
        if (options.InitialBundle is { } bundle && !File.Exists(Path.Combine(bundle, "manifest.json")))
            errors.Add(new("bundle", bundle, "has no manifest.json", "point it at a model bundle directory (manifest.json + head.safetensors)"));
        ConfigurationRules.Require(errors, Enum.IsDefined(options.Engine), "engine", options.Engine, "is unknown", "use auto, managed or torch");
        ConfigurationRules.Require(errors, options.HttpPort is null or (>= 0 and <= 65535), "http:port", options.HttpPort, "is outside 0–65535", "use a free port (8080 by default), 0 for any, or http:enabled=false");
        Seconds(errors, "telemetryIntervalSeconds", options.TelemetryInterval);
        Seconds(errors, "trainCheckIntervalSeconds", options.TrainCheckInterval);
        Seconds(errors, "shutdownTimeoutSeconds", options.ShutdownTimeout);
        Seconds(errors, "learning:sampleTtlMinutes", options.SampleTtl);
        var delta = options.Delta;
        ConfigurationRules.Require(errors, delta.TopKFraction is > 0 and <= 1, "delta:topKFraction", delta.TopKFraction, "is outside (0, 1]", "use e.g. 0.01 for 1 % of each tensor, 1 for dense");
        ConfigurationRules.Require(errors, delta.OutboxMaxFiles >= 1, "delta:outboxMaxFiles", delta.OutboxMaxFiles, "must be at least 1", "use e.g. 256");
        ConfigurationRules.Require(errors, delta.OutboxMaxBytes >= 1024, "delta:outboxMaxBytes", delta.OutboxMaxBytes, "must be at least 1024", "use e.g. 67108864 (64 MiB)");
        ConfigurationRules.Require(errors, options.AccuracyWindow >= 1, "learning:accuracyWindow", options.AccuracyWindow, "must be at least 1", "use e.g. 500");
        ConfigurationRules.Require(errors, options.ReplayCapacity >= 0, "learning:replayCapacity", options.ReplayCapacity, "must be 0 (off) or more", "use e.g. 1000");
        ConfigurationRules.Require(errors, options.MaxStoredSamples >= 1, "learning:maxStoredSamples", options.MaxStoredSamples, "must be at least 1", "use e.g. 100000");
        try
        {
            options.Challenger.Validate();
        }
        catch (ArgumentException ex)
        {
            var field = ex.ParamName ?? "?";
            errors.Add(new("learning:" + char.ToLowerInvariant(field[0]) + field[1..], null, ex.Message, "see docs/device.md for the allowed range"));
        }
        ConfigurationRules.Require(errors, float.IsFinite(options.EwcLambda) && options.EwcLambda >= 0, "learning:ewcLambda", options.EwcLambda, "must be 0 (off) or a positive number", "use e.g. 100 when teaching new classes");
        ConfigurationRules.Require(errors, options.EwcSamples is >= 1 and <= 100_000, "learning:ewcSamples", options.EwcSamples, "is outside 1–100000", "use e.g. 128");
        ConfigurationRules.Require(errors, options.MaxClasses is >= 2 and <= LearnerOptions.MaxClassesLimit, "learning:maxClasses", options.MaxClasses,
            $"is outside 2–{LearnerOptions.MaxClassesLimit}", $"use e.g. {LearnerOptions.DefaultMaxClasses}");
        ConfigurationRules.Require(errors, float.IsFinite(options.ProximalMu) && options.ProximalMu >= 0, "learning:proximalMu", options.ProximalMu,
            "must be 0 (off) or a finite positive number", "use e.g. 0.01 (FedProx; docs/federated.md)");
        ConfigurationRules.Require(errors, options.PersonalLayers is >= 0 and <= LearnerOptions.MaxPersonalLayers, "learning:personalLayers", options.PersonalLayers,
            $"is outside 0–{LearnerOptions.MaxPersonalLayers}", "use 1 to keep the output layer on the device, 0 to share the whole head");
        if (options.Clustering && !string.IsNullOrEmpty(options.ModelName))
            ConfigurationRules.Require(errors, !ContinualLearning.Deltas.ClusterNames.IsClusterModel(options.ModelName), "modelName", options.ModelName,
                "is a cluster model's name (…c<k>) while learning:clustering is on", "set the base model's name: the device follows the cluster directory to its cluster");
        CheckGpio(options.Gpio, errors);
        CheckCommands(options.Commands, errors);
        CheckLimits(options, errors);
        CheckPrivacy(options.Privacy, errors);
    }

    private static void CheckPrivacy(DevicePrivacyOptions p, ICollection<ConfigurationError> errors)
    {
        ConfigurationRules.Require(errors, p.EpsilonBudget is null or > 0 && !double.IsInfinity(p.EpsilonBudget ?? 0), "privacy:epsilonBudget", p.EpsilonBudget,
            "must be a finite number > 0", "use e.g. 8, or leave it unset to keep no ledger");
        ConfigurationRules.Require(errors, p.Delta is > 0 and < 1, "privacy:delta", p.Delta, "must be in (0, 1)", "use e.g. 1e-5");
        ConfigurationRules.Require(errors, p.ParticipationRate is > 0 and <= 1, "privacy:participationRate", p.ParticipationRate, "must be in (0, 1]", "use e.g. 1 (send every delta) or 0.5");
        if (p.Enabled)
            ConfigurationRules.Require(errors, p.NoiseMultiplier > 0 && double.IsFinite(p.NoiseMultiplier), "privacy:noiseMultiplier", p.NoiseMultiplier,
                "must be > 0 when privacy:epsilonBudget is set (without noise every contribution costs infinite ε)", "set it to the aggregator's aggregation:privacy:noiseMultiplier, e.g. 1.0");
    }

    private static void CheckCommands(CommandOptions commands, ICollection<ConfigurationError> errors)
    {
        foreach (var file in commands.OperatorKeyFiles.Where(f => !File.Exists(f)))
            errors.Add(new("commands:operatorKeys", file, "does not exist", "copy the operator's public key (operator.pub from `cl keys new`) there, or remove it from the list"));
        Seconds(errors, "commands:maxLifetimeSeconds", commands.MaxLifetime);
        ConfigurationRules.Require(errors, commands.ClockSkew >= TimeSpan.Zero, "commands:clockSkewSeconds", commands.ClockSkew.TotalSeconds, "is negative", "use e.g. 30");
    }

    private static void CheckLimits(DeviceOptions options, ICollection<ConfigurationError> errors)
    {
        var l = options.Limits;
        ConfigurationRules.Require(errors, l.SampleMaxBytes >= 1024, "limits:sampleMaxBytes", l.SampleMaxBytes, "must be at least 1024", "use e.g. 1048576 (1 MiB)");
        ConfigurationRules.Require(errors, l.ReleaseMaxBytes >= 1024, "limits:releaseMaxBytes", l.ReleaseMaxBytes, "must be at least 1024", "use e.g. 524288 (512 KiB)");
        ConfigurationRules.Require(errors, l.ReleaseChunkMaxBytes >= 1024, "limits:releaseChunkMaxBytes", l.ReleaseChunkMaxBytes, "must be at least 1024", "use at least the aggregator's rollout:chunkSize (65536 by default)");
        ConfigurationRules.Require(errors, l.CommandMaxBytes >= 1024, "limits:commandMaxBytes", l.CommandMaxBytes, "must be at least 1024", "use e.g. 65536 (64 KiB)");
        ConfigurationRules.Require(errors, double.IsFinite(l.SamplesPerSecond) && l.SamplesPerSecond > 0, "limits:samplesPerSecond", l.SamplesPerSecond, "must be a positive number", "use e.g. 100 (the sensor gateway's sustained rate, with room to spare)");
        ConfigurationRules.Require(errors, l.SampleBurst >= 1, "limits:sampleBurst", l.SampleBurst, "must be at least 1", "use e.g. 1000");
        if (options.SampleSweepInterval is { } sweep) Seconds(errors, "learning:sampleSweepSeconds", sweep);
    }

    private static void CheckBroker(BrokerOptions broker, ICollection<ConfigurationError> errors)
    {
        if (string.IsNullOrWhiteSpace(broker.Host))
            errors.Add(new("broker", broker.Host, "has no host", "use host:port, e.g. broker.local:8883"));
        if (broker.Port is < 1 or > 65535)
            errors.Add(new("broker", $"{broker.Host}:{broker.Port}", "has a port outside 1–65535", "use host:port, e.g. broker.local:1883"));
        FleetTlsFiles.Check(errors, "broker:", broker.Tls, broker.TlsCaFile, broker.TlsCertFile, broker.TlsKeyFile);
        if (broker.Password is not null && broker.Username is null)
            errors.Add(new("broker:password", "***", "is set without broker:username", "set broker:username too"));
    }

    private static void CheckGpio(GpioOptions gpio, ICollection<ConfigurationError> errors)
    {
        if (!gpio.Enabled) return;
        if (gpio.LedPin is null && gpio.ButtonPin is null)
            errors.Add(new("gpio:enabled", "true", "is on but neither gpio:ledPin nor gpio:buttonPin is set", "set the pin numbers, or gpio:enabled=false"));
        if (gpio.LedPin is < 0 || gpio.ButtonPin is < 0)
            errors.Add(new("gpio", $"led={gpio.LedPin}, button={gpio.ButtonPin}", "has a negative pin number", "use the BCM (logical) pin numbers"));
        if (gpio.LedPin is { } led && led == gpio.ButtonPin)
            errors.Add(new("gpio:buttonPin", led.ToString(CultureInfo.InvariantCulture), "is the same pin as gpio:ledPin", "wire the button to another pin"));
    }

    private static void Seconds(ICollection<ConfigurationError> errors, string key, TimeSpan value) =>
        ConfigurationRules.Positive(errors, key, value, (key.EndsWith("Minutes", StringComparison.Ordinal) ? value.TotalMinutes : value.TotalSeconds).ToString(CultureInfo.InvariantCulture));
}
