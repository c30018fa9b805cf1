using ContinualLearning.Aggregator.Aggregation;
using ContinualLearning.Deltas;

namespace ContinualLearning.Aggregator.Validation;

/// <summary>Why a delta was refused. Every rejection is counted under one of these and logged with its message.</summary>
public enum RejectionReason
{
    /// <summary>Not a valid CLD1 payload (truncated, bad checksum, ...).</summary>
    Malformed,

    /// <summary>The topic's device id differs from the header's device id (a device speaking for another).</summary>
    DeviceMismatch,

    /// <summary>The device is not on the allow-list.</summary>
    DeviceNotAllowed,

    /// <summary>The delta is for a model this aggregator does not serve.</summary>
    UnknownModel,

    /// <summary>The base version is not in the registry.</summary>
    UnknownBaseVersion,

    /// <summary>The base version was rolled back (a delta from a bad model).</summary>
    RolledBackBase,

    /// <summary>More releases than the staleness bound were published since the base version.</summary>
    TooStale,

    /// <summary>Tensor names or shapes do not fit the model's head.</summary>
    ShapeMismatch,

    /// <summary>NaN or infinity in values, scales or metrics.</summary>
    NonFinite,

    /// <summary>L2 norm above the bound (reject mode).</summary>
    NormTooLarge,

    /// <summary>The delta id was accepted before.</summary>
    Duplicate,

    /// <summary>Sample count of zero: nothing to weight the delta by.</summary>
    NoSamples,

    /// <summary>No tensors, or tensors that carry no values: nothing to aggregate.</summary>
    Empty,

    /// <summary>Created further in the future than the allowed clock skew.</summary>
    FutureTimestamp,

    /// <summary>Created longer ago than the maximum delta age.</summary>
    Expired,

    /// <summary>The model's pending set is at its bound; the device should keep the delta and send it again later.</summary>
    PendingFull,

    /// <summary>The device already has its quota of pending deltas; it should keep the delta and send it again later.</summary>
    DeviceQuota,

    /// <summary>
    /// The header's labels do not fit the base release: a release class missing or named twice, a row count other than
    /// the number of labels, or labels on a model whose classes cannot grow.
    /// </summary>
    LabelMismatch,

    /// <summary>The labels add more classes to the base release than <see cref="ValidationOptions.MaxNewClasses"/>.</summary>
    TooManyNewClasses,

    /// <summary>The delta is for a cluster model that was retired (merged into another or evicted); the device should follow the cluster directory.</summary>
    RetiredCluster,

    /// <summary>Dropped at clustering: the device moved to another cluster, and its buffered delta is relative to the model of the one it left.</summary>
    ClusterMoved,
}

/// <summary>Outcome of validating one delta: accepted with its decoded form, or rejected with a reason and a readable message.</summary>
public sealed record DeltaVerdict(bool Accepted, RejectionReason? Reason, string Message, WeightDelta? Delta = null, int Staleness = 0, double Norm = 0)
{
    public static DeltaVerdict Accept(WeightDelta delta, int staleness, double norm) =>
        new(true, null, $"accepted delta {delta.Header.DeltaId} from {delta.Header.DeviceId} (base {delta.Header.BaseVersion}, staleness {staleness}, norm {norm:G4})", delta, staleness, norm);

    public static DeltaVerdict Reject(RejectionReason reason, string message, WeightDelta? delta = null) => new(false, reason, message, delta);
}

/// <summary>What the validator needs to know about the registry (kept small so the checks stay testable).</summary>
internal interface IDeltaValidationContext
{
    /// <summary>The model this aggregator serves.</summary>
    string ModelName { get; }

    /// <summary>
    /// The context that answers for deltas of <paramref name="modelName"/>, or null with the reason it is not served
    /// (completes "model 'x' …"). One model: only <see cref="ModelName"/>; with clustering, every live cluster model.
    /// </summary>
    IDeltaValidationContext? Route(string modelName, out RejectionReason reason, out string refusal)
    {
        reason = RejectionReason.UnknownModel;
        refusal = $"is not served by this aggregator (it serves '{ModelName}')";
        return string.Equals(modelName, ModelName, StringComparison.Ordinal) ? this : null;
    }

    /// <summary>The head and labels of a registry version (a delta must fit its base's), or null when the registry does not hold it.</summary>
    OutputLayout? Layout(string version);

    /// <summary>Releases published since the version, or null when the registry does not know it.</summary>
    int? ReleasesSince(string baseVersion);

    /// <summary>True when the version was rolled back.</summary>
    bool IsRolledBack(string baseVersion);

    /// <summary>True when the delta id was accepted before.</summary>
    bool IsSeen(Guid deltaId);

    /// <summary>The aggregator's clock, against which a delta's creation time is checked.</summary>
    DateTimeOffset Now { get; }
}

/// <summary>
/// The aggregator's checks, in order: decodes (format, checksum, finiteness), device identity (topic vs header;
/// allow-list), model name, base version known / not rolled back / within the staleness bound, shapes and labels vs
/// the base release's head (<see cref="LabelRules"/>), something to aggregate, creation time, sample count, duplicate id, norm bound. The registry repeats the duplicate
/// check atomically when it stores the delta, together with the pending bounds (<see cref="PendingAdmission"/>).
/// </summary>
internal static class DeltaValidator
{
    public static DeltaVerdict Validate(string topicDeviceId, ReadOnlySpan<byte> payload, IDeltaValidationContext context, ValidationOptions options)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(options);
        WeightDelta delta;
        try
        {
            delta = DeltaCodec.Decode(payload);
        }
        catch (DeltaFormatException ex)
        {
            // The codec refuses NaN/∞ while decoding; tell that apart from plain corruption so the counters mean something.
            var nonFinite = ex.Message.Contains("finite", StringComparison.OrdinalIgnoreCase);
            var reason = ex.InLabels ? RejectionReason.LabelMismatch : nonFinite ? RejectionReason.NonFinite : RejectionReason.Malformed;
            return DeltaVerdict.Reject(reason, $"delta from topic device '{topicDeviceId}' does not decode: {ex.Message}");
        }
        var h = delta.Header;
        var who = $"delta {h.DeltaId} from '{topicDeviceId}'";
        if (!string.Equals(h.DeviceId, topicDeviceId, StringComparison.Ordinal))
            return DeltaVerdict.Reject(RejectionReason.DeviceMismatch, $"{who}: the header says device '{h.DeviceId}' but it was published on device '{topicDeviceId}''s topic; a device may only send its own deltas.", delta);
        if (options.AllowedDevices is { } allowed && !allowed.Contains(h.DeviceId))
            return DeltaVerdict.Reject(RejectionReason.DeviceNotAllowed, $"{who}: device '{h.DeviceId}' is not on the allow-list ({allowed.Count} devices); add it to Validation.AllowedDevices.", delta);
        if (context.Route(h.ModelName, out var refused, out var refusal) is not { } served)
            return DeltaVerdict.Reject(refused, $"{who}: model '{h.ModelName}' {refusal}.", delta);
        context = served;
        var staleness = context.ReleasesSince(h.BaseVersion);
        if (staleness is null)
            return DeltaVerdict.Reject(RejectionReason.UnknownBaseVersion, $"{who}: base version {h.BaseVersion} of {h.ModelName} is not in the registry.", delta);
        if (context.IsRolledBack(h.BaseVersion))
            return DeltaVerdict.Reject(RejectionReason.RolledBackBase, $"{who}: base version {h.BaseVersion} was rolled back; deltas trained from it are not used.", delta);
        if (staleness > options.MaxStaleness)
            return DeltaVerdict.Reject(RejectionReason.TooStale, $"{who}: base version {h.BaseVersion} is {staleness} releases old; the bound is {options.MaxStaleness} (Validation.MaxStaleness).", delta);
        if (context.Layout(h.BaseVersion) is not { } layout)
            return DeltaVerdict.Reject(RejectionReason.UnknownBaseVersion,
                $"{who}: the bundle of base version {h.BaseVersion} of {h.ModelName} is no longer in the registry (retention:keepVersions); the device should update to the current release.", delta);
        if (LabelRules.Check(delta, layout, options.MaxNewClasses) is ({ } shapeReason, var shapeProblem))
            return DeltaVerdict.Reject(shapeReason, $"{who}: {shapeProblem}", delta);
        foreach (var t in delta.Tensors)
            foreach (var v in t.Values)
                if (!float.IsFinite(v))
                    return DeltaVerdict.Reject(RejectionReason.NonFinite, $"{who}: tensor '{t.Name}' holds {v}.", delta);
        if (delta.Tensors.Sum(t => (long)t.Values.Length) == 0)
            return DeltaVerdict.Reject(RejectionReason.Empty, $"{who}: it carries {delta.Tensors.Count} tensors and no values; there is nothing to aggregate.", delta);
        var now = context.Now;
        if (h.CreatedAt > now + options.MaxClockSkew)
            return DeltaVerdict.Reject(RejectionReason.FutureTimestamp, $"{who}: created at {h.CreatedAt:O}, more than {options.MaxClockSkew} (Validation.MaxClockSkew) after the aggregator's clock ({now:O}); check the device clock (NTP).", delta);
        if (h.CreatedAt < now - options.MaxDeltaAge)
            return DeltaVerdict.Reject(RejectionReason.Expired, $"{who}: created at {h.CreatedAt:O}, more than {options.MaxDeltaAge} (Validation.MaxDeltaAge) before the aggregator's clock ({now:O}).", delta);
        if (h.SampleCount <= 0)
            return DeltaVerdict.Reject(RejectionReason.NoSamples, $"{who}: sample count is {h.SampleCount}; a delta must stand for at least one sample.", delta);
        if (context.IsSeen(h.DeltaId))
            return DeltaVerdict.Reject(RejectionReason.Duplicate, $"{who}: delta id already accepted; not counted again.", delta);
        var norm = Delta.L2Norm(delta);
        if (options.MaxNorm is { } max && norm > max && options.NormClipMode == NormClipMode.Reject)
            return DeltaVerdict.Reject(RejectionReason.NormTooLarge, $"{who}: L2 norm {norm:G4} is above the bound {max:G4} (Validation.MaxNorm).", delta);
        return DeltaVerdict.Accept(delta, staleness.Value, norm);
    }
}
