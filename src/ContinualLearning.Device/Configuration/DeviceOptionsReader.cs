using System.Globalization;
using ContinualLearning.Learning;
using Microsoft.Extensions.Configuration;

namespace ContinualLearning.Device.Configuration;

/// <summary>
/// Reads <see cref="DeviceOptions"/> from configuration: a JSON file (default <see cref="DeviceOptions.DefaultConfigPath"/>),
/// then environment variables with prefix <c>CL_DEVICE_</c> (<c>CL_DEVICE_DELTA__TOPKFRACTION=0.05</c> sets
/// <c>delta:topKFraction</c>), then command-line overrides — later sources win. Every unparsable value and every
/// rule violation is reported at once, with key, value and what to do.
/// </summary>
public static class DeviceOptionsReader
{
    public const string EnvironmentPrefix = "CL_DEVICE_";

    /// <summary>Builds the layered configuration. An explicitly given file must exist; the default one is optional.</summary>
    public static IConfiguration Build(string? configPath, IEnumerable<KeyValuePair<string, string?>>? overrides = null, bool readEnvironment = true)
    {
        var builder = new ConfigurationBuilder();
        if (configPath is not null)
        {
            if (!File.Exists(configPath))
                throw new DeviceConfigurationException([new ConfigurationError("--config", configPath, "does not exist", "give the path of a device.json (see docs/device.md for an example)")]);
            builder.AddJsonFile(Path.GetFullPath(configPath), optional: false, reloadOnChange: false);
        }
        else if (File.Exists(DeviceOptions.DefaultConfigPath))
        {
            builder.AddJsonFile(DeviceOptions.DefaultConfigPath, optional: true, reloadOnChange: false);
        }
        if (readEnvironment) builder.AddEnvironmentVariables(EnvironmentPrefix);
        if (overrides is not null) builder.AddInMemoryCollection(overrides);
        try
        {
            return builder.Build();
        }
        catch (InvalidDataException ex)
        {
            throw new DeviceConfigurationException([new ConfigurationError("--config", configPath, $"is not valid JSON ({ex.InnerException?.Message ?? ex.Message})", "fix the file")]);
        }
    }

    /// <summary>Reads and validates; throws <see cref="DeviceConfigurationException"/> listing every problem.</summary>
    public static DeviceOptions Read(IConfiguration config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var errors = new List<ConfigurationError>();
        var p = new Parser(config, errors);
        var defaults = new DeviceOptions { DeviceId = "", Fleet = "", ModelName = "", FleetPublicKeyPath = "" };
        var challengerDefaults = new ChallengerOptions();
        var deltaDefaults = new DeltaOptions();

        var (host, port) = p.HostPort("broker", defaults.Broker.Host, defaults.Broker.Port);
        var options = new DeviceOptions
        {
            DeviceId = p.String("deviceId") ?? "",
            Fleet = p.String("fleet") ?? "",
            ModelName = p.String("modelName") ?? "",
            Cohort = p.String("cohort") ?? defaults.Cohort,
            Broker = new BrokerOptions
            {
                Host = host,
                Port = port,
                Tls = p.Bool("broker:tls", false),
                TlsCaFile = p.String("broker:tlsCaFile"),
                TlsAllowUntrusted = p.Bool("broker:tlsAllowUntrusted", false),
                Username = p.String("broker:username"),
                Password = p.String("broker:password"),
            },
            FleetPublicKeyPath = p.String("fleetPublicKey") ?? "",
            DataDirectory = p.String("dataDirectory") ?? defaults.DataDirectory,
            InitialBundle = p.String("bundle"),
            TransientStorePath = p.String("transientStore"),
            AllowPersistentStore = p.Bool("allowPersistentStore", false),
            DeleteStoreOnStop = p.Bool("deleteStoreOnStop", false),
            Engine = p.Enum("engine", EngineChoice.Auto),
            HttpPort = p.Bool("http:enabled", true) ? p.Int("http:port", defaults.HttpPort!.Value) : null,
            TelemetryInterval = p.Seconds("telemetryIntervalSeconds", defaults.TelemetryInterval),
            TrainCheckInterval = p.Seconds("trainCheckIntervalSeconds", defaults.TrainCheckInterval),
            ShutdownTimeout = p.Seconds("shutdownTimeoutSeconds", defaults.ShutdownTimeout),
            Delta = new DeltaOptions
            {
                TopKFraction = p.Double("delta:topKFraction", deltaDefaults.TopKFraction),
                Encoding = p.Enum("delta:encoding", deltaDefaults.Encoding),
                OutboxMaxFiles = p.Int("delta:outboxMaxFiles", deltaDefaults.OutboxMaxFiles),
                OutboxMaxBytes = p.Long("delta:outboxMaxBytes", deltaDefaults.OutboxMaxBytes),
            },
            Challenger = new ChallengerOptions
            {
                MinSamples = p.Int("learning:minSamples", challengerDefaults.MinSamples),
                MaxSamples = p.Int("learning:maxSamples", challengerDefaults.MaxSamples),
                BatchSize = p.Int("learning:batchSize", challengerDefaults.BatchSize),
                Epochs = p.Int("learning:epochs", challengerDefaults.Epochs),
                ReplayRatio = p.Double("learning:replayRatio", challengerDefaults.ReplayRatio),
                HoldoutFraction = p.Double("learning:holdoutFraction", challengerDefaults.HoldoutFraction),
                AccuracyMargin = p.Double("learning:accuracyMargin", challengerDefaults.AccuracyMargin),
                Mode = p.Enum("learning:mode", challengerDefaults.Mode),
                Seed = p.Int("learning:seed", challengerDefaults.Seed),
            },
            AccuracyWindow = p.Int("learning:accuracyWindow", defaults.AccuracyWindow),
            CompactHeapAroundRuns = p.Bool("learning:compactHeap", defaults.CompactHeapAroundRuns),
            ReplayCapacity = p.Int("learning:replayCapacity", defaults.ReplayCapacity),
            ReplayPolicy = p.Enum("learning:replayPolicy", defaults.ReplayPolicy),
            MaxStoredSamples = p.Int("learning:maxStoredSamples", defaults.MaxStoredSamples),
            SampleTtl = TimeSpan.FromMinutes(p.Double("learning:sampleTtlMinutes", defaults.SampleTtl.TotalMinutes)),
            Gpio = new GpioOptions
            {
                Enabled = p.Bool("gpio:enabled", false),
                Chip = p.Int("gpio:chip", 0),
                LedPin = p.NullableInt("gpio:ledPin"),
                ButtonPin = p.NullableInt("gpio:buttonPin"),
                Simulated = p.Bool("gpio:simulated", false),
            },
            LogFormat = p.Enum("logging:format", LogFormat.Text),
        };

        try
        {
            options.Validate();
        }
        catch (DeviceConfigurationException ex)
        {
            // Parse errors first: a rule violation on a defaulted value is often a consequence of one.
            errors.AddRange(ex.Errors.Where(e => errors.All(pe => pe.Key != e.Key)));
        }
        if (errors.Count > 0) throw new DeviceConfigurationException(errors);
        return options;
    }

    /// <summary>Parses "host:port", "host" (default port) or "[v6]:port".</summary>
    public static bool TryParseHostPort(string value, int defaultPort, out string host, out int port)
    {
        host = value;
        port = defaultPort;
        if (string.IsNullOrWhiteSpace(value)) return false;
        var colon = value.LastIndexOf(':');
        var bracket = value.LastIndexOf(']');
        if (colon < 0 || colon < bracket)
        {
            host = value.Trim('[', ']');
            return true;
        }
        host = value[..colon].Trim('[', ']');
        return int.TryParse(value[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) && host.Length > 0;
    }

    private sealed class Parser(IConfiguration config, List<ConfigurationError> errors)
    {
        public string? String(string key)
        {
            var v = config[key];
            return string.IsNullOrWhiteSpace(v) ? null : v.Trim();
        }

        public bool Bool(string key, bool fallback)
        {
            var v = String(key);
            if (v is null) return fallback;
            if (bool.TryParse(v, out var b)) return b;
            if (v is "1" or "yes" or "on") return true;
            if (v is "0" or "no" or "off") return false;
            errors.Add(new(key, v, "is not a boolean", "use true or false"));
            return fallback;
        }

        public int Int(string key, int fallback)
        {
            var v = String(key);
            if (v is null) return fallback;
            if (int.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i)) return i;
            errors.Add(new(key, v, "is not an integer", $"use a whole number (default {fallback})"));
            return fallback;
        }

        public int? NullableInt(string key)
        {
            var v = String(key);
            if (v is null) return null;
            if (int.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i)) return i;
            errors.Add(new(key, v, "is not an integer", "use a pin number, e.g. 17"));
            return null;
        }

        public long Long(string key, long fallback)
        {
            var v = String(key);
            if (v is null) return fallback;
            if (long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i)) return i;
            errors.Add(new(key, v, "is not an integer", $"use a whole number (default {fallback})"));
            return fallback;
        }

        public double Double(string key, double fallback)
        {
            var v = String(key);
            if (v is null) return fallback;
            if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)) return d;
            errors.Add(new(key, v, "is not a number", $"use a number with '.' as decimal point (default {fallback.ToString(CultureInfo.InvariantCulture)})"));
            return fallback;
        }

        public TimeSpan Seconds(string key, TimeSpan fallback) => TimeSpan.FromSeconds(Double(key, fallback.TotalSeconds));

        public T Enum<T>(string key, T fallback)
            where T : struct, System.Enum
        {
            var v = String(key);
            if (v is null) return fallback;
            var normalized = v.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal);
            if (System.Enum.TryParse<T>(normalized, ignoreCase: true, out var e) && System.Enum.IsDefined(e) && !int.TryParse(v, out _)) return e;
            errors.Add(new(key, v, "is not one of the allowed values", "use one of: " + string.Join(", ", System.Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))));
            return fallback;
        }

        public (string Host, int Port) HostPort(string key, string fallbackHost, int fallbackPort)
        {
            var v = String(key);
            if (v is null) return (fallbackHost, fallbackPort);
            if (TryParseHostPort(v, fallbackPort, out var host, out var port)) return (host, port);
            errors.Add(new(key, v, "is not host:port", "use e.g. broker.local:1883 or 10.0.0.5:8883"));
            return (fallbackHost, fallbackPort);
        }
    }
}
