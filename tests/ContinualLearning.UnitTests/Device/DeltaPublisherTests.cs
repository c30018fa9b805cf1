using ContinualLearning.Deltas;
using ContinualLearning.Device.Agent;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Learning;
using ContinualLearning.Tensors;

namespace ContinualLearning.UnitTests.Device;

/// <summary>Promotions → deltas (in order, through the channel) → outbox → transport, without a broker.</summary>
public sealed class DeltaPublisherTests : IDisposable
{
    private readonly DeviceTestKit _kit = new(brokerPort: 1);

    public DeltaPublisherTests()
    {
        // Exact deltas (every coordinate, fp32), so the tests can compare them with weight differences.
        _kit.Options = _kit.Options with { Delta = new DeltaOptions { TopKFraction = 1, Encoding = DeltaEncoding.Float32 } };
    }

    public void Dispose() => _kit.Dispose();

    [Fact]
    public async Task Promotions_are_queued_as_deltas_in_order_and_add_up_to_champion_minus_base()
    {
        await using var parts = new AgentParts(_kit);
        var deltas = parts.Deltas;
        deltas.Offer(Promotion("1.0.0", Weights(0, 0, 0, 0), Weights(1, 0, 0, 0)));
        deltas.Offer(Promotion("1.0.0", Weights(0, 0, 0, 0), Weights(1, 2, 0, 0)));
        deltas.Offer(Promotion("1.0.0", Weights(0, 0, 0, 0), Weights(1, 2, 3, 0)));
        // Not in the outbox yet, but pending: whoever waits for the deltas to leave must wait for these too.
        Assert.Equal((0, 3), (deltas.Outbox.Count, deltas.Pending));
        deltas.CompleteIntake();
        await deltas.BuildDeltasAsync();
        Assert.Equal((3, 3), (deltas.Outbox.Count, deltas.Pending));

        var queued = Drain(deltas);
        Assert.Equal(new float[][] { [1, 0, 0, 0], [0, 2, 0, 0], [0, 0, 3, 0] }, queued.Select(Dense));
        Assert.All(queued, d => Assert.Equal(("1.0.0", _kit.DeviceId, DeviceTestKit.Model), (d.Header.BaseVersion, d.Header.DeviceId, d.Header.ModelName)));
        Assert.Equal(3, queued.Select(d => d.Header.DeltaId).Distinct().Count());
    }

    [Fact]
    public async Task A_release_queued_after_a_promotion_is_applied_after_it()
    {
        // A first session reported the champion [1, 0] on base 1.0.0 (the state is saved next to the outbox).
        await using (var first = new AgentParts(_kit))
        {
            first.Deltas.Offer(Promotion("1.0.0", Weights(0, 0), Weights(1, 0)));
            first.Deltas.CompleteIntake();
            await first.Deltas.BuildDeltasAsync();
            Drain(first.Deltas);
        }

        // Then, before the builder gets to them: one more promotion on 1.0.0, a new release 2.0.0, a promotion on it.
        await using var parts = new AgentParts(_kit);
        parts.Deltas.Offer(Promotion("1.0.0", Weights(0, 0), Weights(1, 1)));
        await parts.Deltas.RebaseAsync("2.0.0", CancellationToken.None);
        parts.Deltas.Offer(Promotion("2.0.0", Weights(5, 5), Weights(5, 7)));
        parts.Deltas.CompleteIntake();
        await parts.Deltas.BuildDeltasAsync();

        // The 1.0.0 promotion sends only its increment over what was reported ([0, 1], not [1, 1] again): the release
        // did not overtake it. The 2.0.0 one is measured from the new base.
        var queued = Drain(parts.Deltas);
        Assert.Equal(new float[][] { [0, 1], [0, 2] }, queued.Select(Dense));
        Assert.Equal(new[] { "1.0.0", "2.0.0" }, queued.Select(d => d.Header.BaseVersion));
    }

    [Fact]
    public async Task Forgetting_the_residual_waits_for_the_promotions_queued_before_it()
    {
        _kit.Options = _kit.Options with { Delta = new DeltaOptions { TopKFraction = 0.25, Encoding = DeltaEncoding.Float32 } };
        await using var parts = new AgentParts(_kit);
        var build = Task.Run(parts.Deltas.BuildDeltasAsync);

        parts.Deltas.Offer(Promotion("1.0.0", Weights(0, 0, 0, 0), Weights(4, 3, 2, 1)));
        await parts.Deltas.ForgetResidualAsync(CancellationToken.None);

        // Top-k 25 % sent the 4 and kept 3, 2, 1 as residual; the wipe came after and dropped it.
        Assert.Equal(1, parts.Deltas.Outbox.Count);
        Assert.Equal(0, parts.Deltas.ResidualNorm);
        parts.Deltas.CompleteIntake();
        await build;
    }

    [Fact]
    public async Task A_promotion_offered_after_the_intake_closed_is_not_queued()
    {
        await using var parts = new AgentParts(_kit);
        parts.Deltas.CompleteIntake();
        parts.Deltas.Offer(Promotion("1.0.0", Weights(0), Weights(1)));
        await parts.Deltas.BuildDeltasAsync();
        Assert.Equal(0, parts.Deltas.Outbox.Count);
        // A release arriving while the agent stops is not an error either.
        await parts.Deltas.RebaseAsync("2.0.0", CancellationToken.None);
    }

    [Fact]
    public async Task The_pump_publishes_oldest_first_removes_after_the_ack_and_reports_what_went_on_the_wire()
    {
        // The transport doubles every value, as a rewriting wrapper could: the receipt describes the doubled delta.
        var transport = new FakeDeltaTransport(failures: 1, rewrite: Doubled);
        await using var parts = new AgentParts(_kit, transport);
        var receipts = new List<DeltaReceipt>();
        parts.Deltas.Acknowledged += r =>
        {
            lock (receipts) receipts.Add(r);
        };
        var first = Payload(3, 4);
        var second = Payload(0, 1);
        parts.Deltas.Outbox.Enqueue(first);
        parts.Deltas.Outbox.Enqueue(second);

        using var stop = new CancellationTokenSource();
        var pump = Task.Run(() => parts.Deltas.PumpAsync(stop.Token));
        await WaitUntil(() => parts.Deltas.Outbox.Count == 0, "outbox published");
        await stop.CancelAsync();
        await pump;

        // The first attempt failed and was retried: one more attempt than deltas, nothing sent twice.
        Assert.Equal(3, transport.Attempts);
        Assert.Equal(new[] { DeltaCodec.Decode(first).Header.DeltaId, DeltaCodec.Decode(second).Header.DeltaId }, receipts.Select(r => r.DeltaId));
        Assert.Equal(transport.Sent.Select(p => p.Length), receipts.Select(r => r.Bytes));
        Assert.Equal(10, receipts[0].Norm, 5); // |(6, 8)|
        Assert.Equal(2, parts.Runtime.Metrics.DeltasSent);
    }

    private static byte[] Doubled(byte[] payload)
    {
        var delta = DeltaCodec.Decode(payload);
        return DeltaCodec.Encode(delta with
        {
            Tensors = delta.Tensors.Select(t => new TensorDelta(t.Name, t.Shape, t.Encoding, t.Scale, t.Indices, t.Values.Select(v => 2 * v).ToArray())).ToArray(),
        });
    }

    private byte[] Payload(params float[] values) => DeltaCodec.Encode(new WeightDelta(
        new DeltaHeader(DeviceTestKit.Model, "1.0.0", _kit.DeviceId, Guid.NewGuid(), 1, new Dictionary<string, double>(), DateTimeOffset.UnixEpoch),
        [new TensorDelta("w", [values.Length], DeltaEncoding.Float32, 1, null, values)]));

    [Fact]
    public void The_header_names_the_labels_only_when_they_differ_from_the_base()
    {
        Assert.Null(DeltaPublisher.HeaderLabels(Promotion("1.0.0", Weights(0, 0), Weights(1, 0), ["a", "b"], ["a", "b"])));
        Assert.Null(DeltaPublisher.HeaderLabels(Promotion("1.0.0", Weights(0), Weights(1))));
        Assert.Equal(["a", "b", "c"], DeltaPublisher.HeaderLabels(Promotion("1.0.0", Weights(0, 0, 0), Weights(1, 0, 2), ["a", "b", "c"], ["a", "b"])));
    }

    [Fact]
    public async Task After_a_class_is_added_old_rows_send_their_increment_and_the_new_row_is_sent_whole()
    {
        await using var parts = new AgentParts(_kit);
        var deltas = parts.Deltas;
        // One output weight per class: [a, b] reported as [1, 0]; then "c" is added and trained: [1, 1, 5] against the
        // base aligned to a, b, c ([0, 0] plus a zero row for c). Then a rollback across the growth: back to two rows.
        deltas.Offer(Promotion("1.0.0", Weights(0, 0), Weights(1, 0), ["a", "b"], ["a", "b"]));
        deltas.Offer(Promotion("1.0.0", Weights(0, 0, 0), Weights(1, 1, 5), ["a", "b", "c"], ["a", "b"]));
        deltas.Offer(Promotion("1.0.0", Weights(0, 0), Weights(2, 1), ["a", "b"], ["a", "b"]));
        deltas.CompleteIntake();
        await deltas.BuildDeltasAsync();

        Assert.Equal(new float[][] { [1, 0], [0, 1, 5], [1, 0] }, Drain(deltas).Select(Dense));
    }

    private static List<WeightDelta> Drain(DeltaPublisher deltas)
    {
        var all = new List<WeightDelta>();
        while (deltas.Outbox.Peek() is { } item)
        {
            all.Add(DeltaCodec.Decode(item.Payload));
            deltas.Outbox.Remove(item.Sequence);
        }
        return all;
    }

    private static float[] Dense(WeightDelta delta) => delta.ToDense()[0].Data;

    internal static NamedTensor[] Weights(params float[] values) => [new NamedTensor("w", [values.Length], values)];

    internal static PromotedEventArgs Promotion(string baseVersion, NamedTensor[] baseWeights, NamedTensor[] champion,
        string[]? labels = null, string[]? baseLabels = null) => new()
    {
        NewVersion = baseVersion + "-local.1",
        BaseVersion = baseVersion,
        BaseWeights = baseWeights,
        ChampionWeights = champion,
        LabelNames = labels ?? [],
        BaseLabelNames = baseLabels ?? [],
        SamplesUsed = 20,
        Decision = new PromotionDecision
        {
            Time = DateTimeOffset.UnixEpoch,
            TriggerReason = "test",
            Mode = "stateless",
            Metric = DecisionMetric.Accuracy,
            ChampionMetric = 0.5,
            ChallengerMetric = 0.75,
            Margin = 0,
            TrainSamples = 16,
            HoldoutSamples = 4,
            ReplayedRows = 0,
            Steps = 1,
            SampleGradients = 16,
            WallTime = TimeSpan.Zero,
            Promoted = true,
            ChampionVersion = baseVersion,
            NewVersion = baseVersion + "-local.1",
        },
    };
}
