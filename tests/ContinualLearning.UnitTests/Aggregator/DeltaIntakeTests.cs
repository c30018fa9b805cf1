using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Aggregation;
using ContinualLearning.Aggregator.Inbox;
using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Validation;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// One batch, one transaction, on a real SQLite registry: each delta gets the verdict it would get alone (a duplicate
/// inside the batch is a duplicate, the bounds count what the batch already buffered), the rejections are recorded with
/// it, and a batch the registry cannot write leaves nothing behind.
/// </summary>
public sealed class DeltaIntakeTests : IDisposable
{
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForUnitTests();
    private readonly ModelRegistry _registry;
    private readonly AggregatorMetrics _metrics = new();
    private int _wakes;

    public DeltaIntakeTests() => _registry = ModelRegistry.Open(_kit.RegistryPath);

    public void Dispose()
    {
        _registry.Dispose();
        _metrics.Dispose();
        _kit.Dispose();
    }

    [Fact]
    public void A_batch_gets_the_verdicts_one_by_one_would_get_and_records_its_rejections()
    {
        var intake = Intake(o => o with { Aggregation = o.Aggregation with { MaxPendingPerDevice = 2, BufferSize = 3 } });
        var repeated = Guid.NewGuid();
        var verdicts = intake.Store(
        [
            new ReceivedDelta("d1", _kit.EncodeDelta("d1", id: repeated)),
            new ReceivedDelta("d1", _kit.EncodeDelta("d1", id: repeated)), // the same delta twice in one batch
            new ReceivedDelta("d1", _kit.EncodeDelta("d1")),
            new ReceivedDelta("d1", _kit.EncodeDelta("d1")), // third of d1: over its quota of 2
            new ReceivedDelta("d2", _kit.EncodeDelta("d2")[..40]),
            new ReceivedDelta("d3", _kit.EncodeDelta("d3")),
        ]);

        Assert.Equal([true, false, true, false, false, true], verdicts.Select(v => v.Accepted));
        Assert.Equal([null, RejectionReason.Duplicate, null, RejectionReason.DeviceQuota, RejectionReason.Malformed, null], verdicts.Select(v => v.Reason));
        Assert.Equal(3, _registry.Deltas.PendingCount(AggregatorTestKit.Model));
        Assert.Equal(3, _registry.Rejections.Count());
        Assert.Equal(1, _wakes); // three buffered: the buffer is full, checked once for the batch

        // Sent again (a redelivery after a lost PUBACK): every one is a duplicate now, nothing counted twice.
        var again = intake.Store([new ReceivedDelta("d1", _kit.EncodeDelta("d1", id: repeated))]);
        Assert.Equal(RejectionReason.Duplicate, Assert.Single(again).Reason);
        Assert.Equal(3, _registry.Deltas.PendingCount(AggregatorTestKit.Model));
    }

    [Fact]
    public void A_batch_the_registry_cannot_write_stores_nothing_of_it()
    {
        var intake = Intake();
        _registry.Database.Execute("CREATE TRIGGER fail_admission BEFORE INSERT ON pending_deltas WHEN NEW.device_id = 'd3' BEGIN SELECT RAISE(ABORT, 'injected failure'); END");

        var error = Assert.ThrowsAny<Exception>(() => intake.Store(
        [
            new ReceivedDelta("d1", _kit.EncodeDelta("d1")),
            new ReceivedDelta("d2", _kit.EncodeDelta("d2")[..40]),
            new ReceivedDelta("d3", _kit.EncodeDelta("d3")),
        ]));

        Assert.Contains("injected failure", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, _registry.Deltas.PendingCount(AggregatorTestKit.Model));
        Assert.Equal(0, _registry.Rejections.Count()); // the batch's rejection went with it
        Assert.Empty(_registry.Deltas.States());
    }

    private DeltaIntake Intake(Func<AggregatorOptions, AggregatorOptions>? configure = null)
    {
        var options = _kit.Options(1883, "f", configure: configure);
        var layouts = new ReleaseLayouts(_registry, options.ModelName);
        var journal = new Journal(_registry, _metrics, NullLogger.Instance, options.Retention);
        return new DeltaIntake(_registry, new RegistryValidationContext(_registry, options.ModelName, layouts), journal, options, _metrics, NullLogger.Instance, () => _wakes++);
    }
}
