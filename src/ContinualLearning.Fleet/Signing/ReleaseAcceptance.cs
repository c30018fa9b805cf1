using System.Security.Cryptography;
using ContinualLearning.Fleet.Messages;

namespace ContinualLearning.Fleet.Signing;

/// <summary>What a receiver does with a message on a model's release topic.</summary>
public enum ReleaseVerdict
{
    /// <summary>Nothing to do: a cleared retained release, another model's, or the release already being fetched.</summary>
    Ignore,

    /// <summary>A valid-looking release for another cohort: not installed, not an error.</summary>
    OtherCohort,

    /// <summary>Refused (unreadable, bad signature, no sequence, a replay); <see cref="ReleaseDecision.Reason"/> says why.</summary>
    Refuse,

    /// <summary>The release with the sequence accepted last, redelivered (every reconnect re-sends the retained release).</summary>
    AlreadyAccepted,

    /// <summary>The version already running: accept its sequence without a download.</summary>
    AlreadyRunning,

    /// <summary>Verified and newer than anything accepted: fetch its chunks.</summary>
    Fetch,
}

/// <summary>The verdict on a release, the parsed release when it could be read, and the reason of a refusal.</summary>
public sealed record ReleaseDecision(ReleaseVerdict Verdict, Release? Release = null, string? Reason = null)
{
    /// <summary>The release's signed sequence (0 when there is none or the release was unreadable).</summary>
    public long Sequence => Release?.Sequence ?? 0;
}

/// <summary>
/// The pure decision part of installing a signed release, shared by the device agent and the fleet simulator: the model
/// and cohort filter, the signature against the fleet key (checked before anything is fetched), and the release sequence
/// rules — a release above the last one accepted is installed even when its version is older (a rollback), one at the
/// last sequence is a redelivery, one below it a replay and refused. Holds no state: the caller owns the last accepted
/// sequence, the release being fetched and the running version.
/// </summary>
public sealed class ReleaseAcceptance
{
    private readonly string _modelName;
    private readonly ECDsa _fleetKey;

    /// <summary>Decides releases of <paramref name="modelName"/> against the fleet's public key.</summary>
    public ReleaseAcceptance(string modelName, ECDsa fleetKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelName);
        ArgumentNullException.ThrowIfNull(fleetKey);
        _modelName = modelName;
        _fleetKey = fleetKey;
    }

    /// <summary>A release addressed to <c>all</c> or to exactly this device's cohort.</summary>
    public static bool IsForCohort(string releaseCohort, string deviceCohort) =>
        string.Equals(releaseCohort, "all", StringComparison.OrdinalIgnoreCase) || string.Equals(releaseCohort, deviceCohort, StringComparison.Ordinal);

    /// <summary>
    /// First step, on receipt: parse the payload, filter model and cohort, verify the signature and compare the sequence
    /// with <paramref name="acceptedSequence"/> (0 before any). <see cref="ReleaseVerdict.Fetch"/> still has to pass
    /// <see cref="WhileFetching"/> under the caller's lock.
    /// </summary>
    public ReleaseDecision Judge(string topic, byte[] payload, string deviceCohort, long acceptedSequence)
    {
        ArgumentNullException.ThrowIfNull(payload);
        if (payload.Length == 0) return new ReleaseDecision(ReleaseVerdict.Ignore); // a cleared retained release
        Release release;
        try
        {
            release = FleetJson.ReadRelease(payload);
        }
        catch (FleetMessageException ex)
        {
            return new ReleaseDecision(ReleaseVerdict.Refuse, Reason: $"release on {topic} is unreadable: {ex.Message}");
        }
        if (release.ModelName != _modelName) return new ReleaseDecision(ReleaseVerdict.Ignore, release);
        if (!IsForCohort(release.Cohort, deviceCohort)) return new ReleaseDecision(ReleaseVerdict.OtherCohort, release);
        var verified = ReleaseSigner.Verify(release, _fleetKey);
        if (!verified.Ok) return new ReleaseDecision(ReleaseVerdict.Refuse, release, verified.Reason);
        if (release.Sequence is not { } sequence)
            return new ReleaseDecision(ReleaseVerdict.Refuse, release,
                $"release {release.ModelName} v{release.Version} has no release sequence, so a replay of it could not be told from the fleet's current release; republish it with a current aggregator or `cl model publish`.");
        if (sequence == acceptedSequence) return new ReleaseDecision(ReleaseVerdict.AlreadyAccepted, release);
        if (sequence < acceptedSequence)
            return new ReleaseDecision(ReleaseVerdict.Refuse, release,
                $"release {release.ModelName} v{release.Version} has sequence {sequence}, but this device already accepted sequence {acceptedSequence}: a replayed older release; ignoring it.");
        return new ReleaseDecision(ReleaseVerdict.Fetch, release);
    }

    /// <summary>
    /// Second step, for a release <see cref="Judge"/> let through, against what the caller is doing now: the sequence of
    /// the release it is fetching (null when none) and the version it runs (null when none).
    /// </summary>
    public static ReleaseDecision WhileFetching(Release release, long? fetchingSequence, string? runningVersion)
    {
        ArgumentNullException.ThrowIfNull(release);
        var sequence = release.Sequence ?? 0;
        if (fetchingSequence is { } fetching && fetching >= sequence)
        {
            return fetching > sequence
                ? new ReleaseDecision(ReleaseVerdict.Refuse, release, $"release {release.ModelName} v{release.Version} has sequence {sequence}, below the release being fetched ({fetching}): a replayed older release; ignoring it.")
                : new ReleaseDecision(ReleaseVerdict.Ignore, release);
        }
        // Already running it (e.g. a canary device when its version is promoted to all): nothing to fetch.
        return runningVersion == release.Version ? new ReleaseDecision(ReleaseVerdict.AlreadyRunning, release) : new ReleaseDecision(ReleaseVerdict.Fetch, release);
    }
}
