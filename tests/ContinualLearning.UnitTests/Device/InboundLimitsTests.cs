using System.Text;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Device.Serving;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Topics;
using Microsoft.Extensions.Time.Testing;

namespace ContinualLearning.UnitTests.Device;

/// <summary>
/// The attacks on the device's inbound MQTT side, replayed against <see cref="InboundGuard"/> with a real runtime and
/// store: an oversize sample (attack 6), a sample flood (attack 1) and log amplification by bad values (attack 9).
/// </summary>
public sealed class InboundLimitsTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly ListLogger _log = new();
    private AgentParts _parts = null!;
    private InboundGuard _guard = null!;

    private string SamplesTopic => FleetTopics.Samples(_parts.Kit.Fleet, _parts.Kit.DeviceId);

    public async ValueTask InitializeAsync()
    {
        var kit = new DeviceTestKit(brokerPort: 1);
        kit.Options = kit.Options with { InitialBundle = kit.Bundle("1.0.0"), Limits = new DeviceLimits { SamplesPerSecond = 10, SampleBurst = 50 } };
        _parts = new AgentParts(kit);
        await _parts.Runtime.OpenAsync();
        _guard = new InboundGuard(_parts.Runtime, _log, _clock);
    }

    public async ValueTask DisposeAsync()
    {
        await _parts.DisposeAsync();
        _parts.Kit.Dispose();
    }

    [Fact]
    public void Attack_50MB_sample_is_refused_unparsed_counted_and_logged_in_one_short_line()
    {
        // Measured on the old daemon: one 50 MB samples message took it from 270 to 742 MB RSS (parsed as JSON).
        var payload = LabelledSample(padding: 50 * 1024 * 1024);

        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var admitted = _guard.Admit(new FleetMessage(SamplesTopic, payload, Retain: false), FleetTopicKind.DeviceSamples);
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;

        Assert.False(admitted);
        Assert.True(allocated < 64 * 1024, $"refusing the message allocated {allocated} bytes: it was read, not refused by size");
        Assert.Equal(1, _parts.Runtime.Metrics.PayloadsOversize);
        Assert.Equal(0, _parts.Runtime.Learner!.Status.StoredSamples);
        var line = Assert.Single(_log.Lines);
        Assert.Contains($"{payload.Length} bytes is over the cap of {1024 * 1024} bytes (limits:sampleMaxBytes)", line, StringComparison.Ordinal);
        Assert.True(line.Length < 400, line);
    }

    [Theory]
    [InlineData(FleetTopicKind.DeviceSamples, 1024 * 1024)]
    [InlineData(FleetTopicKind.ModelRelease, 512 * 1024)]
    [InlineData(FleetTopicKind.ModelChunk, 1024 * 1024 + InboundGuard.ChunkHeaderMaxBytes)]
    [InlineData(FleetTopicKind.DeviceCommand, 64 * 1024)]
    [InlineData(null, 64 * 1024)]
    public void Every_topic_has_its_own_cap_checked_before_parsing(FleetTopicKind? kind, int cap)
    {
        Assert.Equal(cap, _guard.CapFor(kind).Bytes);
        Assert.True(_guard.Admit(new FleetMessage("t", new byte[cap], false), kind));
        Assert.False(_guard.Admit(new FleetMessage("t", new byte[cap + 1], false), kind));
        Assert.Equal(1, _parts.Runtime.Metrics.PayloadsOversize);
    }

    [Fact]
    public void The_mqtt_client_announces_the_packet_cap_and_refuses_each_topics_excess_before_copying()
    {
        var limits = _parts.Kit.Options.Limits;
        var client = ContinualLearning.Device.Agent.AgentClientOptions.Build(_parts.Kit.Options, () => []);

        Assert.Equal(limits.ReleaseChunkMaxBytes + InboundGuard.ChunkHeaderMaxBytes + ContinualLearning.Fleet.FleetLimits.PacketOverheadBytes, client.MaximumPacketSize);
        Assert.Equal(limits.SampleMaxBytes, client.MaxPayloadBytes!(SamplesTopic));
        Assert.Equal(limits.ReleaseMaxBytes, client.MaxPayloadBytes(FleetTopics.Release(_parts.Kit.Fleet, DeviceTestKit.Model)));
        Assert.Equal(limits.CommandMaxBytes, client.MaxPayloadBytes(FleetTopics.Command(_parts.Kit.Fleet, _parts.Kit.DeviceId)));

        // What the client reports is counted and logged like a refusal at the handlers.
        _guard.OnRefused(SamplesTopic, 50L << 20, limits.SampleMaxBytes);
        Assert.Equal(1, _parts.Runtime.Metrics.PayloadsOversize);
        Assert.Contains("(limits:sampleMaxBytes)", Assert.Single(_log.Lines), StringComparison.Ordinal);
    }

    [Fact]
    public void Attack_sample_flood_stores_at_most_the_buckets_allowance_and_logs_one_line()
    {
        // Measured on the old daemon: 133,021 labelled samples in 10 s over QoS 0 were all stored and fired the
        // volume trigger. Here: 5,000 at once against a bucket of 50 refilled at 10/s.
        const int flood = 5_000;
        for (var i = 0; i < flood; i++) _guard.OnSample(new FleetMessage(SamplesTopic, LabelledSample(), false));

        Assert.Equal(50, _parts.Runtime.Learner!.Status.StoredSamples);
        Assert.Equal(50, _parts.Runtime.Metrics.Labels);
        Assert.Equal(flood - 50, _parts.Runtime.Metrics.SamplesRateLimited);
        var line = Assert.Single(_log.Lines);
        Assert.Contains("1 refused unread since the last such line", line, StringComparison.Ordinal);

        // The bucket refills at the sustained rate (10 in 1 s); refusals within the log interval only add to the count.
        _clock.Advance(TimeSpan.FromSeconds(1));
        for (var i = 0; i < 100; i++) _guard.OnSample(new FleetMessage(SamplesTopic, LabelledSample(), false));
        Assert.Equal(60, _parts.Runtime.Learner.Status.StoredSamples);
        Assert.Single(_log.Lines);

        // After the interval the bucket is full again (50, not 10 × 11 s) and the next line reports every refusal since the first.
        _clock.Advance(InboundGuard.LogInterval);
        for (var i = 0; i < 200; i++) _guard.OnSample(new FleetMessage(SamplesTopic, LabelledSample(), false));
        Assert.Equal(110, _parts.Runtime.Learner.Status.StoredSamples);
        Assert.Equal(flood - 50 + 90 + 150, _parts.Runtime.Metrics.SamplesRateLimited);
        Assert.Equal(2, _log.Lines.Count);
        Assert.Contains($"{flood - 50 - 1 + 90 + 1} refused unread since the last such line", _log.Lines.Last(), StringComparison.Ordinal);
    }

    [Fact]
    public void Attack_2MB_bad_values_cost_a_few_hundred_bytes_of_log()
    {
        // Measured on the old daemon: 5 × 2 MB refused samples wrote 10 MB of log (the raw value, each time).
        for (var i = 0; i < 5; i++)
            Assert.False(_guard.Admit(new FleetMessage(SamplesTopic, BadValue(2 * 1024 * 1024), false), FleetTopicKind.DeviceSamples));
        // Under the cap, the value reaches the parser, which refuses it and quotes it: cut.
        for (var i = 0; i < 5; i++) _guard.OnSample(new FleetMessage(SamplesTopic, BadValue(900 * 1024), false));

        Assert.Equal(5, _parts.Runtime.Metrics.PayloadsOversize);
        Assert.Equal(5, _parts.Runtime.Metrics.RequestsRejected);
        Assert.Equal(2, _log.Lines.Count);
        Assert.True(_log.Bytes < 1_000, string.Join("\n", _log.Lines));
        Assert.Contains("(921602 bytes)", _log.Lines.Last(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_value_is_cut_in_the_refusal_itself()
    {
        var ex = Assert.Throws<SampleRequestException>(() => SampleRequest.Parse(BadValue(900 * 1024)));
        Assert.Equal("features[1]", ex.Field);
        Assert.True(ex.Value!.Length < 200, ex.Value);
        Assert.True(ex.Message.Length < 200, ex.Message);

        var huge = "{\"features\":{\"" + new string('k', 900 * 1024) + "\":\"x\"}}";
        var named = Assert.Throws<SampleRequestException>(() => SampleRequest.Parse(Encoding.UTF8.GetBytes(huge)));
        Assert.True(named.Field!.Length < 200 && named.Message.Length < DisplayTextLimit, named.Message);
    }

    private const int DisplayTextLimit = ContinualLearning.Text.DisplayText.MessageMaxChars + 40;

    private static byte[] LabelledSample(int padding = 0) =>
        Encoding.UTF8.GetBytes($"{{\"features\":[1,2,3],\"label\":\"UP\",\"pad\":\"{new string('x', padding)}\"}}");

    // A sample whose second feature is a string of about `size` bytes: the value the old daemon echoed in full.
    private static byte[] BadValue(int size) => Encoding.UTF8.GetBytes($"{{\"features\":[1,\"{new string('9', size)}\",3]}}");
}
