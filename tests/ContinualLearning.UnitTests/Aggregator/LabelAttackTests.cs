using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Validation;
using ContinualLearning.Deltas;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// Issue 12, item 4: labelled deltas that lie about the head, fed to <see cref="AggregatorService.Receive"/> (the handler
/// the inbox calls) against the kit's release 1.0.0 (labels "0", "1").
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class LabelAttackTests(EmbeddedBrokerFixture fixture) : BrokerTestBase(fixture), IDisposable
{
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForUnitTests();

    public void Dispose() => _kit.Dispose();

    private async Task<AggregatorService> StartAsync()
    {
        var service = new AggregatorService(_kit.Options(Fixture.Broker.Port, Fleet, configure: o => o with { Tick = TimeSpan.FromHours(1) }));
        await service.StartAsync();
        return service;
    }

    private static void AssertRefused(DeltaVerdict verdict, RejectionReason reason, string message)
    {
        Assert.False(verdict.Accepted);
        Assert.Equal(reason, verdict.Reason);
        Assert.Contains(message, verdict.Message);
    }

    [Fact]
    public async Task Attack_labels_that_lie_about_the_row_count_are_refused()
    {
        await using var service = await StartAsync();
        // Three labels, two rows: "hello" would be read from rows the device never sent.
        AssertRefused(service.Receive("m", LabelledDeltas.Encode("m", ["0", "1", "hello"], _ => 0.1f, rows: 2)),
            RejectionReason.LabelMismatch, "its labels name 3 classes but its output layer has 2 rows");
        // Two labels, three rows: an unnamed row.
        AssertRefused(service.Receive("m", LabelledDeltas.Encode("m", ["0", "1"], _ => 0.1f, rows: 3)),
            RejectionReason.LabelMismatch, "its labels name 2 classes but its output layer has 3 rows");
        // No labels but more rows than the release: rows for classes nobody named.
        AssertRefused(service.Receive("m", LabelledDeltas.Encode("m", null, _ => 0.1f, rows: 3)),
            RejectionReason.ShapeMismatch, "tensor '2.weight' has shape [3, 4], head 3→4→2 (SoftmaxCrossEntropy) needs [2, 4]");
        Assert.Equal(0, service.Registry.Deltas.PendingCount(AggregatorTestKit.Model));
    }

    [Fact]
    public async Task Attack_duplicated_label_names_are_refused()
    {
        await using var service = await StartAsync();
        // The encoder refuses duplicates, so rename "x" to "1" in the bytes: "1" twice would give one class two rows.
        var bytes = LabelledDeltas.Encode("m", ["0", "1", "x"], _ => 0.1f);
        var at = bytes.AsSpan(0, bytes.Length - DeltaCodec.ChecksumLength).LastIndexOf("\u0001x"u8);
        bytes[at + 1] = (byte)'1';

        AssertRefused(service.Receive("m", LabelledDeltas.Reseal(bytes)), RejectionReason.LabelMismatch, "label 2 ('1') appears twice");
    }

    [Fact]
    public async Task Attack_a_delta_that_drops_a_release_class_is_refused()
    {
        await using var service = await StartAsync();
        // Two rows again, but row 1 is now "hello": class "1" would be trained with another class's rows.
        AssertRefused(service.Receive("m", LabelledDeltas.Encode("m", ["0", "hello"], _ => 0.1f)),
            RejectionReason.LabelMismatch, "it drops class '1' of its base release (1 missing of 2); a device keeps every class of its release");
    }

    [Fact]
    public async Task Attack_an_absurd_number_of_new_classes_is_refused()
    {
        await using var service = await StartAsync();
        var many = new[] { "0", "1" }.Concat(Enumerable.Range(0, 500).Select(i => $"class-{i}")).ToArray();
        AssertRefused(service.Receive("m", LabelledDeltas.Encode("m", many, _ => 0.01f)),
            RejectionReason.TooManyNewClasses, "it adds 500 classes to its base release's 2; at most 8 are accepted (Validation.MaxNewClasses)");

        // Past the format's bound the decoder refuses before reading a name: patch the label count of a 1,024-label delta.
        var limit = new[] { "0", "1" }.Concat(Enumerable.Range(0, DeltaLabels.MaxCount - 2).Select(i => $"c{i}")).ToArray();
        var bytes = LabelledDeltas.Encode("m", limit, _ => 0.01f);
        var count = bytes.AsSpan().IndexOf(new byte[] { (DeltaLabels.MaxCount & 0x7F) | 0x80, DeltaLabels.MaxCount >> 7, 1, (byte)'0' });
        Assert.True(count > 0);
        bytes[count] = 0xFF;
        bytes[count + 1] = 0xFF;
        bytes[count + 2] = 0x03; // 65,535 labels
        AssertRefused(service.Receive("m", LabelledDeltas.Reseal(bytes)), RejectionReason.LabelMismatch, "65535 labels, over the limit of 1024");
        Assert.Equal(0, service.Registry.Deltas.PendingCount(AggregatorTestKit.Model));
    }
}
