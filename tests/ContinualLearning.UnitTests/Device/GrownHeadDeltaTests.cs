using ContinualLearning.Deltas;
using ContinualLearning.Device.Agent;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Learning;
using ContinualLearning.Tensors;

namespace ContinualLearning.UnitTests.Device;

/// <summary>Deltas from a head that grew a class on the device: the header's labels and the increment's rows.</summary>
public sealed class GrownHeadDeltaTests : IDisposable
{
    private readonly DeviceTestKit _kit = new(brokerPort: 1);

    public GrownHeadDeltaTests()
    {
        _kit.Options = _kit.Options with { Delta = new DeltaOptions { TopKFraction = 1, Encoding = DeltaEncoding.Float32 } };
    }

    public void Dispose() => _kit.Dispose();

    [Fact]
    public void The_header_names_the_labels_only_when_they_differ_from_the_base()
    {
        Assert.Null(DeltaPublisher.HeaderLabels(Promotion(Rows(0, 0), Rows(1, 0), ["a", "b"], ["a", "b"])));
        Assert.Null(DeltaPublisher.HeaderLabels(Promotion(Rows(0), Rows(1), [], [])));
        Assert.Equal(["a", "b", "c"], DeltaPublisher.HeaderLabels(Promotion(Rows(0, 0, 0), Rows(1, 0, 2), ["a", "b", "c"], ["a", "b"])));
    }

    [Fact]
    public async Task After_growth_old_rows_send_their_increment_and_the_new_row_is_sent_whole()
    {
        await using var parts = new AgentParts(_kit);
        var deltas = parts.Deltas;
        // One output weight per class: [a, b] reported as [1, 0]; then "c" is added and trained: [1, 1, 5] against the
        // base aligned to a, b, c ([0, 0] plus a zero row for c).
        deltas.Offer(Promotion(Rows(0, 0), Rows(1, 0), ["a", "b"], ["a", "b"]));
        deltas.Offer(Promotion(Rows(0, 0, 0), Rows(1, 1, 5), ["a", "b", "c"], ["a", "b"]));
        // Rolled back across the growth: back to two rows, measured from what was last reported.
        deltas.Offer(Promotion(Rows(0, 0), Rows(2, 1), ["a", "b"], ["a", "b"]));
        deltas.CompleteIntake();
        await deltas.BuildDeltasAsync();

        var queued = new List<WeightDelta>();
        while (deltas.Outbox.Peek() is { } item)
        {
            queued.Add(DeltaCodec.Decode(item.Payload));
            deltas.Outbox.Remove(item.Sequence);
        }
        Assert.Equal(new float[][] { [1, 0], [0, 1, 5], [1, 0] }, queued.Select(d => d.ToDense()[0].Data));
    }

    private static NamedTensor[] Rows(params float[] values) => [new NamedTensor("2.bias", [values.Length], values)];

    private static PromotedEventArgs Promotion(NamedTensor[] baseWeights, NamedTensor[] champion, string[] labels, string[] baseLabels) => new()
    {
        NewVersion = "1.0.0-local.1",
        BaseVersion = "1.0.0",
        BaseWeights = baseWeights,
        ChampionWeights = champion,
        LabelNames = labels,
        BaseLabelNames = baseLabels,
        SamplesUsed = 20,
        Decision = new PromotionDecision
        {
            Time = DateTimeOffset.UnixEpoch,
            TriggerReason = "test",
            Mode = "stateful",
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
            ChampionVersion = "1.0.0",
            NewVersion = "1.0.0-local.1",
        },
    };
}
