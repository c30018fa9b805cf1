using ContinualLearning.Device.Configuration;
using ContinualLearning.Fleet;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.Text;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Device.Serving;

/// <summary>
/// What the device lets in from the broker before anything is parsed: a size cap per topic (<see cref="DeviceLimits"/>:
/// one 50 MB sample once took the daemon from 270 to 742 MB RSS), enforced by the MQTT client before it even copies
/// the payload (<see cref="FleetMqttClientOptions.MaxPayloadBytes"/>, <see cref="OnRefused"/>) and again where the
/// handlers start (<see cref="Admit"/>), and for the samples topic a token bucket
/// (133,021 injected samples in 10 s once fired the volume trigger). Refusals are counted in <see cref="DeviceMetrics"/>
/// and logged at most once per <see cref="LogInterval"/> per kind, with the count of those not logged, and every
/// sender-controlled text in them cut by <see cref="DisplayText"/>.
/// </summary>
internal sealed partial class InboundGuard
{
    /// <summary>The largest header a release chunk can carry (magic, format, 255-byte name and version, index/count/length, SHA-256).</summary>
    public const int ChunkHeaderMaxBytes = FleetLimits.ChunkHeaderBytes;

    /// <summary>At most one line per kind of refusal in this period.</summary>
    public static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);

    private readonly DeviceRuntime _runtime;
    private readonly DeviceLimits _limits;
    private readonly ILogger _logger;
    private readonly TokenBucket _samples;
    private readonly LogThrottle _oversizeLog;
    private readonly LogThrottle _rateLog;
    private readonly LogThrottle _invalidLog;

    public InboundGuard(DeviceRuntime runtime, ILogger logger, TimeProvider time)
    {
        _runtime = runtime;
        _limits = runtime.Options.Limits;
        _logger = logger;
        _samples = new TokenBucket(_limits.SamplesPerSecond, _limits.SampleBurst, time);
        _oversizeLog = new LogThrottle(time, LogInterval);
        _rateLog = new LogThrottle(time, LogInterval);
        _invalidLog = new LogThrottle(time, LogInterval);
    }

    /// <summary>The largest payload accepted on a topic of <paramref name="kind"/>, and the configuration key that sets it.</summary>
    public static (int Bytes, string Key) CapFor(DeviceLimits limits, FleetTopicKind? kind)
    {
        ArgumentNullException.ThrowIfNull(limits);
        return kind switch
        {
            FleetTopicKind.DeviceSamples => (limits.SampleMaxBytes, "limits:sampleMaxBytes"),
            FleetTopicKind.ModelRelease => (limits.ReleaseMaxBytes, "limits:releaseMaxBytes"),
            FleetTopicKind.ModelChunk => (limits.ReleaseChunkMaxBytes + ChunkHeaderMaxBytes, "limits:releaseChunkMaxBytes"),
            // Commands, and anything else that reaches the device: small JSON.
            _ => (limits.CommandMaxBytes, "limits:commandMaxBytes"),
        };
    }

    /// <summary>The cap of a concrete topic (what the MQTT client checks before copying a payload).</summary>
    public static int CapFor(DeviceLimits limits, string topic) => CapFor(limits, FleetTopics.TryParse(topic)?.Kind).Bytes;

    /// <summary>The MQTT 5 maximum packet size the device announces: its largest payload cap plus the packet's own overhead.</summary>
    public static int PacketBytes(DeviceLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        var largest = Math.Max(Math.Max(limits.SampleMaxBytes, limits.ReleaseMaxBytes), Math.Max(limits.ReleaseChunkMaxBytes + ChunkHeaderMaxBytes, limits.CommandMaxBytes));
        return checked(largest + FleetLimits.PacketOverheadBytes);
    }

    /// <inheritdoc cref="CapFor(DeviceLimits, FleetTopicKind?)"/>
    public (int Bytes, string Key) CapFor(FleetTopicKind? kind) => CapFor(_limits, kind);

    /// <summary>
    /// True when <paramref name="message"/> is within its topic's cap; otherwise it is counted, logged and must be
    /// dropped unread. The client has already refused such a payload (<see cref="OnRefused"/>); this repeats the check
    /// where the handlers start, so no handler depends on how the client was built.
    /// </summary>
    public bool Admit(FleetMessage message, FleetTopicKind? kind)
    {
        ArgumentNullException.ThrowIfNull(message);
        var cap = CapFor(kind).Bytes;
        if (message.Payload.Length <= cap) return true;
        OnRefused(message.Topic, message.Payload.Length, cap);
        return false;
    }

    /// <summary>A payload over its cap, refused unread (by the MQTT client or <see cref="Admit"/>): counted, and logged at most once per interval.</summary>
    public void OnRefused(string topic, long size, int cap)
    {
        ArgumentNullException.ThrowIfNull(topic);
        _runtime.Metrics.CountOversize();
        if (_oversizeLog.ShouldLog(out var suppressed))
            LogOversize(_logger, DisplayText.Truncate(topic), size, cap, CapFor(FleetTopics.TryParse(topic)?.Kind).Key, suppressed);
    }

    /// <summary>
    /// A message on the samples topic (already within its cap): refused unparsed when over the rate; otherwise parsed
    /// and applied (label a served prediction, add a labelled sample, or predict). JSON, or for an audio model a WAV
    /// clip (content type <c>audio/wav</c>, label in the user property <see cref="AudioSample.LabelProperty"/>).
    /// </summary>
    public void OnSample(FleetMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!_samples.TryTake())
        {
            _runtime.Metrics.CountRateLimited();
            if (_rateLog.ShouldLog(out var suppressed))
                LogRateLimited(_logger, message.Topic, suppressed + 1, LogInterval.TotalSeconds, _limits.SamplesPerSecond, _limits.SampleBurst);
            return;
        }
        try
        {
            // A clip comes as MQTT 5 content type audio/wav with its label in a user property; anything else is JSON.
            if (ModelInput.IsAudio(message.ContentType))
                AudioSample.Apply(message.Payload, message.ContentType, message.UserProperty(AudioSample.LabelProperty), _runtime);
            else SampleRequest.Apply(SampleRequest.Parse(message.Payload), _runtime);
        }
        catch (SampleRequestException ex)
        {
            _runtime.Metrics.CountRejectedRequest();
            // The exception's message, field and value are already cut (SampleRequestException).
            if (_invalidLog.ShouldLog(out var suppressed))
                LogSampleRefused(_logger, message.Topic, ex.Message, ex.Field, ex.Value, suppressed);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Message on {Topic} refused unread: {Size} bytes is over the cap of {Cap} bytes ({Key}); {Suppressed} more refused for size since the last such line.")]
    private static partial void LogOversize(ILogger logger, string topic, long size, int cap, string key, long suppressed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Samples on {Topic} over the rate limit: {Count} refused unread since the last such line (at most one line per {Interval} s; limits:samplesPerSecond {Rate}, limits:sampleBurst {Burst}). A sender is flooding the topic, or the limit is below the gateway's real rate.")]
    private static partial void LogRateLimited(ILogger logger, string topic, long count, double interval, double rate, int burst);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sample on {Topic} refused: {Reason} (field {Field}, value {Value}); {Suppressed} more invalid samples since the last such line.")]
    private static partial void LogSampleRefused(ILogger logger, string topic, string reason, string? field, string? value, long suppressed);
}
