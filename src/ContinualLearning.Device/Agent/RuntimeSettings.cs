using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using ContinualLearning.IO;

namespace ContinualLearning.Device.Agent;

/// <summary>
/// The few settings a fleet <c>set-config</c> command may change at run time, persisted to <c>runtime.json</c> so
/// they survive restarts (they override the config file). Only keys that cannot brick a device are allowed: the
/// broker, keys and paths stay under the owner's control.
/// </summary>
public sealed class RuntimeSettings
{
    /// <summary>Keys accepted by set-config.</summary>
    public static readonly IReadOnlyList<string> AllowedKeys = ["cohort", "delta.topKFraction", "telemetryIntervalSeconds"];

    private readonly string _path;
    private readonly Lock _lock = new();

    public RuntimeSettings(string path, string cohort, double topKFraction, TimeSpan telemetryInterval)
    {
        _path = path;
        Cohort = cohort;
        TopKFraction = topKFraction;
        TelemetryInterval = telemetryInterval;
        if (!File.Exists(path)) return;
        try
        {
            var saved = JsonSerializer.Deserialize(File.ReadAllBytes(path), RuntimeSettingsJson.Default.DictionaryStringString);
            if (saved is not null) Apply(saved, persist: false);
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException)
        {
            // A damaged overrides file must not keep the daemon from starting; the config file values apply.
            LoadError = $"ignored {path}: {ex.Message}";
        }
    }

    public string Cohort { get; private set; }

    public double TopKFraction { get; private set; }

    public TimeSpan TelemetryInterval { get; private set; }

    /// <summary>Why the saved overrides were ignored, if they were.</summary>
    public string? LoadError { get; }

    /// <summary>Validates every key first, then applies all of them (all or nothing). Throws <see cref="ArgumentException"/> naming the key.</summary>
    public IReadOnlyDictionary<string, string> Apply(IReadOnlyDictionary<string, string> values, bool persist = true)
    {
        ArgumentNullException.ThrowIfNull(values);
        string? cohort = null;
        double? topK = null;
        TimeSpan? telemetry = null;
        foreach (var (key, value) in values)
        {
            switch (key)
            {
                case "cohort":
                    if (!ContinualLearning.Fleet.Topics.FleetTopics.IsValidId(value))
                        throw new ArgumentException($"set-config: cohort '{value}' is not a valid id; use e.g. canary or all.", key);
                    cohort = value;
                    break;
                case "delta.topKFraction":
                    if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) || !(f > 0 && f <= 1))
                        throw new ArgumentException($"set-config: delta.topKFraction '{value}' must be a number in (0, 1], e.g. 0.01.", key);
                    topK = f;
                    break;
                case "telemetryIntervalSeconds":
                    if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) || !(s >= 1 && s <= 86_400))
                        throw new ArgumentException($"set-config: telemetryIntervalSeconds '{value}' must be a number of seconds in [1, 86400].", key);
                    telemetry = TimeSpan.FromSeconds(s);
                    break;
                default:
                    throw new ArgumentException($"set-config: key '{key}' cannot be changed remotely; allowed keys: {string.Join(", ", AllowedKeys)}.", key);
            }
        }
        lock (_lock)
        {
            if (cohort is not null) Cohort = cohort;
            if (topK is not null) TopKFraction = topK.Value;
            if (telemetry is not null) TelemetryInterval = telemetry.Value;
            if (persist) Save();
            return Snapshot();
        }
    }

    public IReadOnlyDictionary<string, string> Snapshot() => new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["cohort"] = Cohort,
        ["delta.topKFraction"] = TopKFraction.ToString("R", CultureInfo.InvariantCulture),
        ["telemetryIntervalSeconds"] = TelemetryInterval.TotalSeconds.ToString("R", CultureInfo.InvariantCulture),
    };

    private void Save()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_path))!);
        AtomicFile.Write(_path, JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string>(Snapshot()), RuntimeSettingsJson.Default.DictionaryStringString));
    }
}

/// <summary>Source-generated JSON for runtime.json (no reflection: <c>cl-device</c> is compiled ahead of time).</summary>
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class RuntimeSettingsJson : JsonSerializerContext;
