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
    /// <summary>Connected; the device publishes it (retained) after every connect.</summary>
    [JsonStringEnumMemberName("online")]
    Online,

    /// <summary>Gone; published by the device on a clean shutdown, or by the broker as its last will.</summary>
    [JsonStringEnumMemberName("offline")]
    Offline,
}

/// <summary>Drift detector state reported in telemetry.</summary>
public enum DriftState
{
    /// <summary>No drift detector has fired.</summary>
    [JsonStringEnumMemberName("stable")]
    Stable,

    /// <summary>A detector sees the error rising but has not confirmed drift yet (DDM's warning level).</summary>
    [JsonStringEnumMemberName("warning")]
    Warning,

    /// <summary>A detector confirmed drift.</summary>
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
    /// <summary>Schema version this build writes and the newest it reads.</summary>
    public const int CurrentVersion = 1;

    /// <summary>Schema version of this message ("v").</summary>
    [JsonPropertyName("v")]
    public int V { get; init; } = CurrentVersion;

    /// <summary>The device (and MQTT client) id.</summary>
    public required string DeviceId { get; init; }

    /// <summary>Online, or offline for the last will and a clean shutdown.</summary>
    public required DeviceState State { get; init; }

    /// <summary>When the device produced this status.</summary>
    public DateTimeOffset Timestamp { get; init; }

    /// <summary>Name of the model the device serves, or null before it has one.</summary>
    public string? ModelName { get; init; }

    /// <summary>Version that serves predictions (a local pre-release after an on-device promotion).</summary>
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

    /// <summary>Whether training is paused by a pause command (predictions still serve).</summary>
    public bool Paused { get; init; }

    /// <summary>Samples the device has served predictions for (its prediction counter).</summary>
    public long SamplesSeen { get; init; }

    /// <summary>Samples in the on-device store now.</summary>
    public long SamplesStored { get; init; }

    /// <summary>Training runs the device has completed (its counter).</summary>
    public long TrainingRuns { get; init; }

    /// <summary>Deltas the device has sent (its counter).</summary>
    public long DeltasSent { get; init; }

    /// <summary>The message a device registers as its last will: retained, state offline.</summary>
    public static DeviceStatus Offline(string deviceId) => new() { DeviceId = deviceId, State = DeviceState.Offline, Timestamp = DateTimeOffset.UtcNow };
}

/// <summary>Periodic metrics on <c>cl/{fleet}/device/{id}/telemetry</c> (not retained, QoS 0 or 1).</summary>
public sealed record Telemetry : IFleetMessage
{
    /// <summary>Schema version this build writes and the newest it reads.</summary>
    public const int CurrentVersion = 1;

    /// <summary>Schema version of this message ("v").</summary>
    [JsonPropertyName("v")]
    public int V { get; init; } = CurrentVersion;

    /// <summary>The device id.</summary>
    public required string DeviceId { get; init; }

    /// <summary>When the device measured these numbers.</summary>
    public DateTimeOffset Timestamp { get; init; }

    /// <summary>Version that serves predictions (a local pre-release after an on-device promotion).</summary>
    public string? ModelVersion { get; init; }

    /// <summary>
    /// The global release the device runs on. <see cref="ModelVersion"/> is what serves, which after a local
    /// promotion is a pre-release of it ("1.4.0-local.2"); canary rules compare devices by this base.
    /// </summary>
    public string? BaseVersion { get; init; }

    /// <summary>Prequential accuracy over the last <see cref="AccuracyWindow"/> labelled samples.</summary>
    public double? Accuracy { get; init; }

    /// <summary>Number of labelled samples <see cref="Accuracy"/> covers.</summary>
    public int AccuracyWindow { get; init; }

    /// <summary>Whether drift is pending on the device.</summary>
    public DriftState Drift { get; init; }

    /// <summary>Detector that last fired ("adwin", "page-hinkley", "ddm", ...).</summary>
    public string? DriftDetector { get; init; }

    /// <summary>CPU use of the daemon process since the previous report, in percent of all cores.</summary>
    public double CpuPercent { get; init; }

    /// <summary>Working set of the daemon process, in bytes.</summary>
    public long MemoryBytes { get; init; }

    /// <summary>Size of the on-device sample store in bytes; 0 when not reported.</summary>
    public long StoreBytes { get; init; }

    /// <summary>Seconds spent training; 0 when not reported.</summary>
    public double TrainSeconds { get; init; }

    /// <summary>Anything else worth plotting, keyed by metric name.</summary>
    public IReadOnlyDictionary<string, double>? Extra { get; init; }

    /// <summary>ε the device's contributions have spent (its ledger, at its configured δ); absent when it keeps no ledger. Added in schema 1; older readers ignore it.</summary>
    public double? PrivacyEpsilon { get; init; }

    /// <summary>True once the device stopped sending deltas because its ε budget is spent; absent otherwise.</summary>
    public bool? PrivacyBudgetSpent { get; init; }
}

/// <summary>
/// Fleet → device on <c>cl/{fleet}/device/{id}/cmd</c>, QoS 1, with MQTT 5 correlation data. Signed by an operator key
/// the device trusts (<see cref="Signing.CommandSigner"/>); the signature covers every field, the target device and the
/// validity window included, so a command cannot be redirected to another device or replayed after it expires.
/// </summary>
public sealed record Command : IFleetMessage
{
    /// <summary>Schema version this build writes and the newest it reads.</summary>
    public const int CurrentVersion = 1;

    /// <summary>Schema version of this message ("v").</summary>
    [JsonPropertyName("v")]
    public int V { get; init; } = CurrentVersion;

    /// <summary>Unique id; devices ignore a command id they already executed (QoS 1 may deliver twice).</summary>
    public required string CommandId { get; init; }

    /// <summary>What the device should do.</summary>
    public required CommandKind Kind { get; init; }

    /// <summary>Command arguments, e.g. {"version": "12"} for rollback or config keys for set-config.</summary>
    public IReadOnlyDictionary<string, string>? Args { get; init; }

    /// <summary>When the sender issued the command.</summary>
    public DateTimeOffset IssuedAt { get; init; }

    /// <summary>
    /// Devices drop commands that arrive after this time (e.g. a queued train-now after a long outage). Required: a
    /// device refuses a command without it, or one that lives longer than its <c>commands:maxLifetimeSeconds</c>.
    /// </summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>Fleet the command is for; signed, so a command cannot be replayed into another fleet.</summary>
    public string? Fleet { get; init; }

    /// <summary>Device the command is for; signed, so a command cannot be replayed onto another device's topic.</summary>
    public string? DeviceId { get; init; }

    /// <summary>Identifies the operator key that signed the command (<see cref="Signing.ReleaseKeys.KeyId"/>).</summary>
    public string? KeyId { get; init; }

    /// <summary>Base64 ECDSA P-256 / SHA-256 signature (IEEE P1363, r‖s) over the canonical bytes; null while unsigned.</summary>
    public string? Signature { get; init; }
}

/// <summary>
/// Device → requester on the device's own reply topic <c>cl/{fleet}/device/{id}/reply</c>, with the command's
/// correlation data (a response topic named by the sender is ignored).
/// </summary>
public sealed record CommandReply : IFleetMessage
{
    /// <summary>Schema version this build writes and the newest it reads.</summary>
    public const int CurrentVersion = 1;

    /// <summary>Schema version of this message ("v").</summary>
    [JsonPropertyName("v")]
    public int V { get; init; } = CurrentVersion;

    /// <summary>The <see cref="Command.CommandId"/> this answers.</summary>
    public required string CommandId { get; init; }

    /// <summary>The device that executed (or refused) the command.</summary>
    public required string DeviceId { get; init; }

    /// <summary>Whether the command was carried out.</summary>
    public required bool Ok { get; init; }

    /// <summary>What happened, or what went wrong and what to do.</summary>
    public string? Message { get; init; }

    /// <summary>Results of the command (e.g. the version rolled back to), keyed by name.</summary>
    public IReadOnlyDictionary<string, string>? Data { get; init; }

    /// <summary>When the device answered.</summary>
    public DateTimeOffset Timestamp { get; init; }
}

/// <summary>
/// Retained on <c>cl/{fleet}/model/{name}/release</c>: the signed description of a model version's bundle,
/// which devices fetch in chunks from <c>cl/{fleet}/model/{name}/{version}/chunk/{n}</c>.
/// </summary>
public sealed record Release : IFleetMessage
{
    /// <summary>Schema version this build writes and the newest it reads.</summary>
    public const int CurrentVersion = 1;

    /// <summary>Schema version of this message ("v").</summary>
    [JsonPropertyName("v")]
    public int V { get; init; } = CurrentVersion;

    /// <summary>Name of the model (the bundle's manifest name).</summary>
    public required string ModelName { get; init; }

    /// <summary>Semantic version of this release.</summary>
    public required string Version { get; init; }

    /// <summary>Version this release was trained from, or null for the first one.</summary>
    public string? ParentVersion { get; init; }

    /// <summary>Which devices should install it ("canary", "all").</summary>
    public required string Cohort { get; init; }

    /// <summary>Lower-case hex SHA-256 of the whole bundle container.</summary>
    public required string BundleSha256 { get; init; }

    /// <summary>Size of the bundle container in bytes.</summary>
    public required long BundleSize { get; init; }

    /// <summary>Bytes per chunk (the last chunk may be shorter).</summary>
    public required int ChunkSize { get; init; }

    /// <summary>Number of chunks the bundle is split into.</summary>
    public required int ChunkCount { get; init; }

    /// <summary>Lower-case hex SHA-256 of each chunk, in order; signed with the rest.</summary>
    public required IReadOnlyList<string> ChunkSha256 { get; init; }

    /// <summary>When the aggregator created the release.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>
    /// Release sequence of the model: strictly increasing over every release published, signed with the rest. A device
    /// installs a verified release whose sequence is above the last one it accepted — an older version published as a
    /// rollback included — and refuses one at or below it (a replayed release). Null in releases made before sequences.
    /// </summary>
    public long? Sequence { get; init; }

    /// <summary>Identifies the signing key (e.g. its SPKI SHA-256 prefix) so devices can hold several trusted keys.</summary>
    public string? KeyId { get; init; }

    /// <summary>Base64 ECDSA P-256 / SHA-256 signature (IEEE P1363, r‖s) over the canonical bytes; null while unsigned.</summary>
    public string? Signature { get; init; }
}
