namespace ContinualLearning.Device.Configuration;

/// <summary>
/// What the daemon accepts from the broker and the loopback API (<c>limits:*</c>): the largest payload per topic,
/// checked before anything is parsed, and the rate of samples on the samples topic. The defaults leave an honest
/// fleet's messages far inside them (a 128-feature sample is ~1 KB, a default release chunk 64 KiB).
/// </summary>
public sealed record DeviceLimits
{
    /// <summary>Largest MQTT sample message and HTTP request body (<c>limits:sampleMaxBytes</c>). Default 1 MiB.</summary>
    public int SampleMaxBytes { get; init; } = ContinualLearning.Fleet.FleetLimits.MaxSamplesPayloadBytes;

    /// <summary>Largest release description (<c>limits:releaseMaxBytes</c>): ~70 bytes per chunk hash. Default 512 KiB (7,000+ chunks).</summary>
    public int ReleaseMaxBytes { get; init; } = 512 * 1024;

    /// <summary>Largest chunk data (<c>limits:releaseChunkMaxBytes</c>); the message may add the chunk header. Default 1 MiB (the aggregator's <c>rollout:chunkSize</c> is 64 KiB by default).</summary>
    public int ReleaseChunkMaxBytes { get; init; } = 1024 * 1024;

    /// <summary>Largest command message (<c>limits:commandMaxBytes</c>). Default 64 KiB.</summary>
    public int CommandMaxBytes { get; init; } = 64 * 1024;

    /// <summary>Sustained samples per second accepted on the MQTT samples topic (<c>limits:samplesPerSecond</c>). Default 100.</summary>
    public double SamplesPerSecond { get; init; } = 100;

    /// <summary>Samples accepted at once above the sustained rate (<c>limits:sampleBurst</c>), the token bucket's size. Default 1,000.</summary>
    public int SampleBurst { get; init; } = 1_000;
}
