using System.Collections.Concurrent;
using ContinualLearning.Aggregator.Registry;

namespace ContinualLearning.Aggregator.Rollout;

/// <summary>
/// The devices whose word the canary takes: those the registry has accepted at least one delta from for the model
/// (they passed validation, and with the broker's ACL only the device itself can publish on its topics), and those the
/// operator enrolled by name (<see cref="ValidationOptions.AllowedDevices"/>, <see cref="RolloutOptions.CanaryDevices"/>).
/// A retained status or a telemetry report alone does not make a device known: anyone who can reach the broker can send those.
/// </summary>
internal sealed class KnownDevices(ModelRegistry registry, AggregatorOptions options)
{
    // Once known, always known (accepted deltas are never forgotten); the unknown are asked again, an indexed lookup.
    private readonly ConcurrentDictionary<string, bool> _known = new(StringComparer.Ordinal);

    public bool IsKnown(string deviceId)
    {
        ArgumentNullException.ThrowIfNull(deviceId);
        if (_known.ContainsKey(deviceId)) return true;
        var known = options.Validation.AllowedDevices?.Contains(deviceId) == true
            || options.Rollout.CanaryDevices?.Contains(deviceId, StringComparer.Ordinal) == true
            || registry.Deltas.HasAccepted(options.ModelName, deviceId);
        if (known) _known.TryAdd(deviceId, true);
        return known;
    }
}
