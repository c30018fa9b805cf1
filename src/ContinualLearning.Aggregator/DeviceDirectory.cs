using System.Collections.Concurrent;
using ContinualLearning.Fleet.Messages;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Aggregator;

/// <summary>What the aggregator knows about a device from its retained status.</summary>
public sealed record KnownDevice(string DeviceId, DeviceState State, string? ModelVersion, string? Cohort, DateTimeOffset LastSeen)
{
    /// <summary>The global release the device runs on (its <see cref="ModelVersion"/> may be a local pre-release of it).</summary>
    public string? BaseVersion { get; init; }

    /// <summary>"managed" or "torch", as the device reports it.</summary>
    public string? Engine { get; init; }

    /// <summary>Training paused by a pause command.</summary>
    public bool Paused { get; init; }

    /// <summary>Deltas the device says it has sent.</summary>
    public long DeltasSent { get; init; }
}

/// <summary>The devices of the fleet as their retained status messages describe them (the canary is chosen among the online ones).</summary>
internal sealed partial class DeviceDirectory(ILogger logger)
{
    private readonly ConcurrentDictionary<string, KnownDevice> _devices = new(StringComparer.Ordinal);

    public IReadOnlyCollection<KnownDevice> All => _devices.Values.ToArray();

    /// <summary>The device's entry, or null when it has no retained status.</summary>
    public KnownDevice? Get(string deviceId) => _devices.TryGetValue(deviceId, out var d) ? d : null;

    /// <summary>How many devices have a retained status (without copying them).</summary>
    public int Count => _devices.Count;

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
            _devices[deviceId] = new KnownDevice(deviceId, s.State, s.ModelVersion, s.Cohort, receivedAt)
            {
                BaseVersion = s.BaseVersion, Engine = s.Engine, Paused = s.Paused, DeltasSent = s.DeltasSent,
            };
        }
        catch (FleetMessageException ex)
        {
            LogBadStatus(logger, deviceId, ex.Message);
        }
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Warning, Message = "Ignoring status from {Device}: {Error}")]
    private static partial void LogBadStatus(ILogger logger, string device, string error);
}
