using ContinualLearning.Fleet.Configuration;
using ContinualLearning.Learning;
using Microsoft.Extensions.Configuration;

namespace ContinualLearning.Device.Configuration;

/// <summary>
/// Reads <see cref="DeviceOptions"/> from configuration: a JSON file (default <see cref="DeviceOptions.DefaultConfigPath"/>),
/// then environment variables with prefix <c>CL_DEVICE_</c> (<c>CL_DEVICE_DELTA__TOPKFRACTION=0.05</c> sets
/// <c>delta:topKFraction</c>), then command-line flags — later layers win (<see cref="LayeredConfiguration"/>, shared
/// with the aggregator). Every unreadable value and every rule violation is reported at once, with key, value, where
/// it came from and what to do.
/// </summary>
public static class DeviceOptionsReader
{
    public const string EnvironmentPrefix = "CL_DEVICE_";

    /// <summary>Builds the layered configuration. An explicitly given file must exist; the default one is optional.</summary>
    /// <param name="configPath">The <c>--config</c> file, or null for the default file when it exists.</param>
    /// <param name="overrides">Values set on the command line, by configuration key.</param>
    /// <param name="readEnvironment">False leaves out the <c>CL_DEVICE_*</c> layer (tests).</param>
    public static LayeredConfiguration Build(string? configPath, IEnumerable<KeyValuePair<string, string?>>? overrides = null, bool readEnvironment = true) =>
        Build(configPath, ConfigurationFlags.From(overrides ?? []), readEnvironment ? EnvironmentPrefix : null);

    /// <summary>Builds the layered configuration with values from flags, named in errors by their flag.</summary>
    /// <param name="configPath">The <c>--config</c> file, or null for the default file when it exists.</param>
    /// <param name="flags">Values from flags, by configuration key, and the flag behind each.</param>
    /// <param name="environmentPrefix">The environment layer's prefix; null leaves the environment out (tests).</param>
    public static LayeredConfiguration Build(string? configPath, ConfigurationFlags flags, string? environmentPrefix = EnvironmentPrefix) =>
        LayeredConfiguration.Build(new ConfigurationLayers("device") { File = configPath, DefaultFile = DeviceOptions.DefaultConfigPath, EnvironmentPrefix = environmentPrefix, Flags = flags });

    /// <summary>Reads and validates; throws <see cref="ConfigurationException"/> listing every problem.</summary>
    public static DeviceOptions Read(LayeredConfiguration config) => ConfigurationReader.Read(config, Map, DeviceOptionsValidator.Instance);

    private static DeviceOptions Map(ConfigurationReader r)
    {
        var s = new DeviceSettings();
        // The binding generator replaces this call with generated code for DeviceSettings (no reflection).
        r.Layers.Configuration.Bind(s);
        var defaults = new DeviceOptions { DeviceId = "", Fleet = "", ModelName = "", FleetPublicKeyPath = "" };
        var challenger = new ChallengerOptions();
        var delta = new DeltaOptions();
        var learning = s.Learning;
        var limits = new DeviceLimits();

        var (host, port) = r.HostPort("broker", s.BrokerAddress, defaults.Broker.Host, defaults.Broker.Port);
        var options = new DeviceOptions
        {
            DeviceId = ConfigurationReader.Text(s.DeviceId) ?? "",
            Fleet = ConfigurationReader.Text(s.Fleet) ?? "",
            ModelName = ConfigurationReader.Text(s.ModelName) ?? "",
            Cohort = ConfigurationReader.Text(s.Cohort) ?? defaults.Cohort,
            Broker = new BrokerOptions
            {
                Host = host,
                Port = port,
                Tls = r.Bool("broker:tls", s.Broker.Tls, false),
                TlsCaFile = ConfigurationReader.Text(s.Broker.TlsCaFile),
                TlsAllowUntrusted = r.Bool("broker:tlsAllowUntrusted", s.Broker.TlsAllowUntrusted, false),
                TlsCertFile = ConfigurationReader.Text(s.Broker.TlsCertFile),
                TlsKeyFile = ConfigurationReader.Text(s.Broker.TlsKeyFile),
                Username = ConfigurationReader.Text(s.Broker.Username),
                Password = ConfigurationReader.Text(s.Broker.Password),
            },
            FleetPublicKeyPath = ConfigurationReader.Text(s.FleetPublicKey) ?? "",
            DataDirectory = ConfigurationReader.Text(s.DataDirectory) ?? defaults.DataDirectory,
            InitialBundle = ConfigurationReader.Text(s.Bundle),
            TransientStorePath = ConfigurationReader.Text(s.TransientStore),
            AllowPersistentStore = r.Bool("allowPersistentStore", s.AllowPersistentStore, false),
            DeleteStoreOnStop = r.Bool("deleteStoreOnStop", s.DeleteStoreOnStop, false),
            Engine = r.Enum("engine", s.Engine, defaults.Engine),
            HttpPort = r.Bool("http:enabled", s.Http.Enabled, true) ? r.WholeNumber("http:port", s.Http.Port, defaults.HttpPort!.Value) : null,
            TelemetryInterval = r.Seconds("telemetryIntervalSeconds", s.TelemetryIntervalSeconds, defaults.TelemetryInterval),
            TrainCheckInterval = r.Seconds("trainCheckIntervalSeconds", s.TrainCheckIntervalSeconds, defaults.TrainCheckInterval),
            ShutdownTimeout = r.Seconds("shutdownTimeoutSeconds", s.ShutdownTimeoutSeconds, defaults.ShutdownTimeout),
            Delta = new DeltaOptions
            {
                TopKFraction = r.Number("delta:topKFraction", s.Delta.TopKFraction, delta.TopKFraction),
                Encoding = r.Enum("delta:encoding", s.Delta.Encoding, delta.Encoding),
                OutboxMaxFiles = r.WholeNumber("delta:outboxMaxFiles", s.Delta.OutboxMaxFiles, delta.OutboxMaxFiles),
                OutboxMaxBytes = r.WholeNumber("delta:outboxMaxBytes", s.Delta.OutboxMaxBytes, delta.OutboxMaxBytes),
            },
            Privacy = new DevicePrivacyOptions
            {
                EpsilonBudget = r.OptionalNumber("privacy:epsilonBudget", s.Privacy.EpsilonBudget, defaults.Privacy.EpsilonBudget),
                Delta = r.Number("privacy:delta", s.Privacy.Delta, defaults.Privacy.Delta),
                NoiseMultiplier = r.Number("privacy:noiseMultiplier", s.Privacy.NoiseMultiplier, defaults.Privacy.NoiseMultiplier),
                ParticipationRate = r.Number("privacy:participationRate", s.Privacy.ParticipationRate, defaults.Privacy.ParticipationRate),
            },
            Challenger = new ChallengerOptions
            {
                MinSamples = r.WholeNumber("learning:minSamples", learning.MinSamples, challenger.MinSamples),
                MaxSamples = r.WholeNumber("learning:maxSamples", learning.MaxSamples, challenger.MaxSamples),
                BatchSize = r.WholeNumber("learning:batchSize", learning.BatchSize, challenger.BatchSize),
                Epochs = r.WholeNumber("learning:epochs", learning.Epochs, challenger.Epochs),
                ReplayRatio = r.Number("learning:replayRatio", learning.ReplayRatio, challenger.ReplayRatio),
                HoldoutFraction = r.Number("learning:holdoutFraction", learning.HoldoutFraction, challenger.HoldoutFraction),
                AccuracyMargin = r.Number("learning:accuracyMargin", learning.AccuracyMargin, challenger.AccuracyMargin),
                Mode = r.Enum("learning:mode", learning.Mode, challenger.Mode),
                Seed = r.WholeNumber("learning:seed", learning.Seed, challenger.Seed),
            },
            AccuracyWindow = r.WholeNumber("learning:accuracyWindow", learning.AccuracyWindow, defaults.AccuracyWindow),
            CompactHeapAroundRuns = r.Bool("learning:compactHeap", learning.CompactHeap, defaults.CompactHeapAroundRuns),
            ReplayCapacity = r.WholeNumber("learning:replayCapacity", learning.ReplayCapacity, defaults.ReplayCapacity),
            ReplayPolicy = r.Enum("learning:replayPolicy", learning.ReplayPolicy, defaults.ReplayPolicy),
            MaxStoredSamples = r.WholeNumber("learning:maxStoredSamples", learning.MaxStoredSamples, defaults.MaxStoredSamples),
            SampleTtl = r.Minutes("learning:sampleTtlMinutes", learning.SampleTtlMinutes, defaults.SampleTtl),
            Gpio = new GpioOptions
            {
                Enabled = r.Bool("gpio:enabled", s.Gpio.Enabled, false),
                Chip = r.WholeNumber("gpio:chip", s.Gpio.Chip, 0),
                LedPin = r.OptionalWholeNumber<int>("gpio:ledPin", s.Gpio.LedPin, "use a pin number, e.g. 17"),
                ButtonPin = r.OptionalWholeNumber<int>("gpio:buttonPin", s.Gpio.ButtonPin, "use a pin number, e.g. 27"),
                Simulated = r.Bool("gpio:simulated", s.Gpio.Simulated, false),
            },
            LogFormat = r.Enum("logging:format", s.Logging.Format, defaults.LogFormat),
            Commands = new CommandOptions
            {
                OperatorKeyFiles = (ConfigurationReader.Text(s.Commands.OperatorKeys) ?? "")
                    .Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                MaxLifetime = r.Seconds("commands:maxLifetimeSeconds", s.Commands.MaxLifetimeSeconds, defaults.Commands.MaxLifetime),
                ClockSkew = r.Seconds("commands:clockSkewSeconds", s.Commands.ClockSkewSeconds, defaults.Commands.ClockSkew),
            },
            Limits = new DeviceLimits
            {
                SampleMaxBytes = r.WholeNumber("limits:sampleMaxBytes", s.Limits.SampleMaxBytes, limits.SampleMaxBytes),
                ReleaseMaxBytes = r.WholeNumber("limits:releaseMaxBytes", s.Limits.ReleaseMaxBytes, limits.ReleaseMaxBytes),
                ReleaseChunkMaxBytes = r.WholeNumber("limits:releaseChunkMaxBytes", s.Limits.ReleaseChunkMaxBytes, limits.ReleaseChunkMaxBytes),
                CommandMaxBytes = r.WholeNumber("limits:commandMaxBytes", s.Limits.CommandMaxBytes, limits.CommandMaxBytes),
                SamplesPerSecond = r.Number("limits:samplesPerSecond", s.Limits.SamplesPerSecond, limits.SamplesPerSecond),
                SampleBurst = r.WholeNumber("limits:sampleBurst", s.Limits.SampleBurst, limits.SampleBurst),
            },
            SampleSweepInterval = r.OptionalNumber("learning:sampleSweepSeconds", learning.SampleSweepSeconds, null) is { } sweep ? TimeSpan.FromSeconds(sweep) : null,
            EwcLambda = (float)r.Number("learning:ewcLambda", learning.EwcLambda, defaults.EwcLambda),
            EwcSamples = r.WholeNumber("learning:ewcSamples", learning.EwcSamples, defaults.EwcSamples),
            AllowNewClasses = r.Bool("learning:allowNewClasses", learning.AllowNewClasses, defaults.AllowNewClasses),
            MaxClasses = r.WholeNumber("learning:maxClasses", learning.MaxClasses, defaults.MaxClasses),
            ProximalMu = (float)r.Number("learning:proximalMu", learning.ProximalMu, defaults.ProximalMu),
            PersonalLayers = r.WholeNumber("learning:personalLayers", learning.PersonalLayers, defaults.PersonalLayers),
            Clustering = r.Bool("learning:clustering", learning.Clustering, defaults.Clustering),
        };
        return options;
    }
}
