using System.Collections.Concurrent;
using ContinualLearning.Fleet.Messages;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Aggregator;

/// <summary>What the aggregator knows about a device from its retained status.</summary>
public sealed record KnownDevice(string DeviceId, DeviceState State, string? ModelVersion, string? Cohort, DateTimeOffset LastSeen);

/// <summary>The devices of the fleet as their retained status messages describe them (the canary is chosen among the online ones).</summary>
internal sealed partial class DeviceDirectory(ILogger logger)
{
    private readonly ConcurrentDictionary<string, KnownDevice> _devices = new(StringComparer.Ordinal);

    public IReadOnlyCollection<KnownDevice> All => _devices.Values.ToArray();

    public IEnumerable<string> Online => _devices.Values.Where(d => d.State == DeviceState.Online).Select(d => d.DeviceId);

    /// <summary>Applies a status message; an empty payload (retained status cleared) forgets the device.</summary>
    public void Apply(string deviceId, byte[] payload, DateTimeOffset receivedAt)
    {
        if (payload.Length == 0)
        {
            _devices.TryRemove(deviceId, out _);
            return;
        }
        try
        {
            var s = FleetJson.ReadStatus(payload);
            _devices[deviceId] = new KnownDevice(deviceId, s.State, s.ModelVersion, s.Cohort, receivedAt);
        }
        catch (FleetMessageException ex)
        {
            LogBadStatus(logger, deviceId, ex.Message);
        }
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Warning, Message = "Ignoring status from {Device}: {Error}")]
    private static partial void LogBadStatus(ILogger logger, string device, string error);
}
