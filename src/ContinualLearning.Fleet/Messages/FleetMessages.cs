using System.Text.Json.Serialization;

namespace ContinualLearning.Fleet.Messages;

/// <summary>Every JSON fleet message carries a schema version "v"; receivers refuse versions newer than they know.</summary>
internal interface IFleetMessage
{
    /// <summary>Schema version of this message type.</summary>
    [JsonPropertyName("v")]
    int V { get; }
}

/// <summary>Whether a device is connected. "offline" is also what the broker publishes as the device's last will.</summary>
public enum DeviceState
{
    [JsonStringEnumMemberName("online")]
    Online,

    [JsonStringEnumMemberName("offline")]
    Offline,
}

/// <summary>Drift detector state reported in telemetry.</summary>
public enum DriftState
{
    [JsonStringEnumMemberName("stable")]
    Stable,

    [JsonStringEnumMemberName("warning")]
    Warning,

    [JsonStringEnumMemberName("drift")]
    Drift,
}

/// <summary>Commands the fleet can send to a device.</summary>
public enum CommandKind
{
    /// <summary>Start a training round now, regardless of the trigger policy.</summary>
    [JsonStringEnumMemberName("train-now")]
    TrainNow,

    /// <summary>Go back to the previous (or the given "version" arg) model.</summary>
    [JsonStringEnumMemberName("rollback")]
    Rollback,

    /// <summary>Stop training (keeps serving predictions).</summary>
    [JsonStringEnumMemberName("pause")]
    Pause,

    /// <summary>Undo pause.</summary>
    [JsonStringEnumMemberName("resume")]
    Resume,

    /// <summary>Delete all stored samples and the replay buffer.</summary>
    [JsonStringEnumMemberName("wipe-data")]
    WipeData,

    /// <summary>Change configuration keys given in args.</summary>
    [JsonStringEnumMemberName("set-config")]
    SetConfig,

    /// <summary>Publish status and telemetry now.</summary>
    [JsonStringEnumMemberName("report")]
    Report,
}

/// <summary>Retained on <c>cl/{fleet}/device/{id}/status</c>; the last will publishes the offline form.</summary>
public sealed record DeviceStatus : IFleetMessage
{
    public const int CurrentVersion = 1;

    [JsonPropertyName("v")]
    public int V { get; init; } = CurrentVersion;

    public required string DeviceId { get; init; }

    public required DeviceState State { get; init; }

    public DateTimeOffset Timestamp { get; init; }

    public string? ModelName { get; init; }

    public string? ModelVersion { get; init; }

    /// <summary>
    /// The global release the device runs on. <see cref="ModelVersion"/> is what serves, which after a local
    /// promotion is a pre-release of it ("1.4.0-local.2"); canary rules compare devices by this base.
    /// </summary>
    public string? BaseVersion { get; init; }

    /// <summary>"managed" or "torch".</summary>
    public string? Engine { get; init; }

    /// <summary>Rollout cohort the device belongs to ("canary", "all", ...).</summary>
    public string? Cohort { get; init; }

    public bool Paused { get; init; }

    public long SamplesSeen { get; init; }

    public long SamplesStored { get; init; }

    public long TrainingRuns { get; init; }

    public long DeltasSent { get; init; }

    /// <summary>The message a device registers as its last will: retained, state offline.</summary>
    public static DeviceStatus Offline(string deviceId) => new() { DeviceId = deviceId, State = DeviceState.Offline, Timestamp = DateTimeOffset.UtcNow };
}

/// <summary>Periodic metrics on <c>cl/{fleet}/device/{id}/telemetry</c> (not retained, QoS 0 or 1).</summary>
public sealed record Telemetry : IFleetMessage
{
    public const int CurrentVersion = 1;

    [JsonPropertyName("v")]
    public int V { get; init; } = CurrentVersion;

    public required string DeviceId { get; init; }

    public DateTimeOffset Timestamp { get; init; }

    public string? ModelVersion { get; init; }

    /// <summary>
    /// The global release the device runs on. <see cref="ModelVersion"/> is what serves, which after a local
    /// promotion is a pre-release of it ("1.4.0-local.2"); canary rules compare devices by this base.
    /// </summary>
    public string? BaseVersion { get; init; }

    /// <summary>Prequential accuracy over the last <see cref="AccuracyWindow"/> labelled samples.</summary>
    public double? Accuracy { get; init; }

    public int AccuracyWindow { get; init; }

    public DriftState Drift { get; init; }

    /// <summary>Detector that last fired ("adwin", "page-hinkley", "ddm", ...).</summary>
    public string? DriftDetector { get; init; }

    public double CpuPercent { get; init; }

    public long MemoryBytes { get; init; }

    public long StoreBytes { get; init; }

    public double TrainSeconds { get; init; }

    /// <summary>Anything else worth plotting, keyed by metric name.</summary>
    public IReadOnlyDictionary<string, double>? Extra { get; init; }
}

/// <summary>Fleet → device on <c>cl/{fleet}/device/{id}/cmd</c>, QoS 1, with an MQTT 5 response topic and correlation data.</summary>
public sealed record Command : IFleetMessage
{
    public const int CurrentVersion = 1;

    [JsonPropertyName("v")]
    public int V { get; init; } = CurrentVersion;

    /// <summary>Unique id; devices ignore a command id they already executed (QoS 1 may deliver twice).</summary>
    public required string CommandId { get; init; }

    public required CommandKind Kind { get; init; }

    /// <summary>Command arguments, e.g. {"version": "12"} for rollback or config keys for set-config.</summary>
    public IReadOnlyDictionary<string, string>? Args { get; init; }

    public DateTimeOffset IssuedAt { get; init; }

    /// <summary>Devices drop commands that arrive after this time (e.g. a queued train-now after a long outage).</summary>
    public DateTimeOffset? ExpiresAt { get; init; }
}

/// <summary>Device → requester on the command's response topic.</summary>
public sealed record CommandReply : IFleetMessage
{
    public const int CurrentVersion = 1;

    [JsonPropertyName("v")]
    public int V { get; init; } = CurrentVersion;

    public required string CommandId { get; init; }

    public required string DeviceId { get; init; }

    public required bool Ok { get; init; }

    /// <summary>What happened, or what went wrong and what to do.</summary>
    public string? Message { get; init; }

    public IReadOnlyDictionary<string, string>? Data { get; init; }

    public DateTimeOffset Timestamp { get; init; }
}

/// <summary>
/// Retained on <c>cl/{fleet}/model/{name}/release</c>: the signed description of a model version's bundle,
/// which devices fetch in chunks from <c>cl/{fleet}/model/{name}/{version}/chunk/{n}</c>.
/// </summary>
public sealed record Release : IFleetMessage
{
    public const int CurrentVersion = 1;

    [JsonPropertyName("v")]
    public int V { get; init; } = CurrentVersion;

    public required string ModelName { get; init; }

    public required string Version { get; init; }

    public string? ParentVersion { get; init; }

    /// <summary>Which devices should install it ("canary", "all").</summary>
    public required string Cohort { get; init; }

    /// <summary>Lower-case hex SHA-256 of the whole bundle container.</summary>
    public required string BundleSha256 { get; init; }

    public required long BundleSize { get; init; }

    public required int ChunkSize { get; init; }

    public required int ChunkCount { get; init; }

    /// <summary>Lower-case hex SHA-256 of each chunk, in order; signed with the rest.</summary>
    public required IReadOnlyList<string> ChunkSha256 { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Identifies the signing key (e.g. its SPKI SHA-256 prefix) so devices can hold several trusted keys.</summary>
    public string? KeyId { get; init; }

    /// <summary>Base64 ECDSA P-256 / SHA-256 signature (IEEE P1363, r‖s) over the canonical bytes; null while unsigned.</summary>
    public string? Signature { get; init; }
}
