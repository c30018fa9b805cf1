using ContinualLearning.Aggregator.Optimizers;
using ContinualLearning.Aggregator.Privacy;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Aggregator.Validation;
using ContinualLearning.Deltas;
using ContinualLearning.Privacy;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Aggregator.Aggregation;

/// <summary>A buffered delta with what the registry says about its base version at aggregation time.</summary>
/// <param name="Delta">The buffered delta.</param>
/// <param name="Staleness">Releases published since its base version; null when the registry does not know the base.</param>
/// <param name="BaseRolledBack">True when its base version was rolled back.</param>
/// <param name="BaseLabels">The labels of its base release (null: the model's classes cannot grow, or the base is the release itself).</param>
internal readonly record struct BufferedDelta(PendingDelta Delta, int? Staleness, bool BaseRolledBack, IReadOnlyList<string>? BaseLabels = null);

/// <summary>A buffered delta the round could not use, and why.</summary>
internal readonly record struct DroppedDelta(PendingDelta Delta, RejectionReason Reason, string Message);

/// <summary>
/// What one round produced: the new head weights (null when no version can be made), the deltas used and dropped, its
/// numbers, and, when usable deltas were kept buffered instead of used, why. <see cref="Layout"/> is the head and labels
/// of <see cref="Weights"/> (the release's, grown by the admitted classes); <see cref="NewClasses"/> lists every class new
/// to the fleet that devices contributed, admitted or not.
/// </summary>
internal sealed record RoundResult(IReadOnlyList<NamedTensor>? Weights, IReadOnlyList<PendingDelta> Used, IReadOnlyList<DroppedDelta> Dropped, RoundMetrics? Metrics, string? Held = null)
{
    public OutputLayout? Layout { get; init; }

    public IReadOnlyList<NewClass> NewClasses { get; init; } = [];

    /// <summary>The central DP noise the round added; null when privacy is off.</summary>
    public RoundPrivacy? Privacy { get; init; }

    /// <summary>The server optimiser's state after this round, laid out as <see cref="Layout"/>, to store with the version (null: SGD keeps none).</summary>
    public ServerOptimizerState? OptimizerState { get; init; }
}

/// <summary>
/// One FedBuff aggregation round as a pure function: no registry, no clock, no I/O. Deltas whose base became unusable
/// since they were accepted (unknown, rolled back, too stale) are dropped with their reason. The rest are grouped by
/// device: a device's deltas are increments of one training run (champion − what it reported before, see the device's
/// <c>ErrorFeedbackState</c>), so they are summed into one update, clipped to <see cref="ValidationOptions.MaxNorm"/>,
/// and that device is one voter however many deltas it sent. A round with fewer than
/// <see cref="AggregationOptions.MinDevices"/> devices makes nothing and leaves the deltas buffered. Each device's
/// weight is min(samples, <see cref="AggregationOptions.MaxSamplesPerDelta"/>) × 1/(1+s)^α for the sample-weighted
/// strategies and 1/(1+s)^α alone for the robust ones (s = the largest staleness among its deltas); the strategy
/// combines the updates into the pseudo-gradient Δ and the server optimiser (<see cref="AggregationOptions.ServerOptimizer"/>,
/// SGD by default: global += η·Δ) turns Δ into the step, from the optimiser state of the release passed in. Output rows
/// are aligned to the release's by label name first (<see cref="LabelAlignment"/>); rows of classes the release lacks
/// go through <see cref="ClassAdmission"/>. With central DP on, the aggregate gets Gaussian noise scaled to the clip
/// (<see cref="CentralNoise"/>).
/// </summary>
internal static class AggregationRound
{
    /// <summary>A round for a head whose classes do not grow (deltas must have its shapes).</summary>
    public static RoundResult Run(IReadOnlyList<NamedTensor> globalWeights, HeadSpec head, IReadOnlyList<BufferedDelta> pending,
        AggregationOptions aggregation, ValidationOptions validation, ServerOptimizerState? optimizerState = null) =>
        Run(globalWeights, new OutputLayout(head, null), pending, aggregation, validation, optimizerState);

    /// <summary>
    /// A round on <paramref name="layout"/>, from the server optimiser state stored with the release it builds on (null:
    /// none yet); <paramref name="noise"/> is the DP noise source when <see cref="AggregationOptions.Privacy"/> is on
    /// (default: the OS CSPRNG; a seeded one in benchmarks).
    /// </summary>
    public static RoundResult Run(IReadOnlyList<NamedTensor> globalWeights, OutputLayout layout, IReadOnlyList<BufferedDelta> pending,
        AggregationOptions aggregation, ValidationOptions validation, ServerOptimizerState? optimizerState = null, GaussianNoise? noise = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(pending);
        ArgumentNullException.ThrowIfNull(aggregation);
        ArgumentNullException.ThrowIfNull(validation);
        var usable = new List<(PendingDelta Delta, int Staleness, IReadOnlyList<string>? BaseLabels)>();
        var dropped = new List<DroppedDelta>();
        foreach (var (p, staleness, rolledBack, baseLabels) in pending)
        {
            RejectionReason? problem = staleness is null ? RejectionReason.UnknownBaseVersion
                : rolledBack ? RejectionReason.RolledBackBase
                : staleness > validation.MaxStaleness ? RejectionReason.TooStale : null;
            if (problem is { } reason)
                dropped.Add(new DroppedDelta(p, reason, $"buffered delta {p.DeltaId} from '{p.DeviceId}' (base {p.BaseVersion}) dropped at aggregation: {reason.ToText()}, staleness {staleness}."));
            else
                usable.Add((p, staleness!.Value, baseLabels));
        }
        var aligned = new List<(PendingDelta Delta, int Staleness, AlignedUpdate Update)>();
        foreach (var (p, staleness, baseLabels) in usable)
        {
            var one = LabelAlignment.Align(DeltaCodec.Decode(p.Payload), baseLabels, layout, out var problem);
            if (one is null)
                dropped.Add(new DroppedDelta(p, RejectionReason.ShapeMismatch, $"buffered delta {p.DeltaId} from '{p.DeviceId}' (base {p.BaseVersion}) dropped at aggregation: {problem}"));
            else
                aligned.Add((p, staleness, one));
        }
        var devices = aligned.GroupBy(u => u.Delta.DeviceId, StringComparer.Ordinal).ToArray();
        if (devices.Length == 0) return new RoundResult(null, [], dropped, null);
        if (devices.Length < aggregation.MinDevices)
            return new RoundResult(null, [], dropped, null,
                $"{aligned.Count} usable deltas come from {devices.Length} device(s); a version needs {aggregation.MinDevices} distinct devices (Aggregation.MinDevices), so they stay buffered");

        var strategy = AggregationStrategies.Create(aggregation.Strategy, aggregation.StrategyOptions);
        if (devices.Length < strategy.MinUpdates)
            return new RoundResult(null, [], dropped, null,
                $"{aligned.Count} usable deltas come from {devices.Length} device(s); {aggregation.Strategy.ToText()} with {aggregation.StrategyOptions.ByzantineDevices} Byzantine device(s) needs {strategy.MinUpdates} (2f + 3), so they stay buffered");
        var updates = devices.Select(d => DeviceUpdate(d, strategy.WeighsBySamples, aggregation, validation)).ToArray();
        var update = strategy.Aggregate(updates.Select(u => new WeightedUpdate(u.Update.Global, u.Weight)).ToArray());
        var privacy = aggregation.Privacy.Enabled
            ? CentralNoise.Apply(update, updates.Select(u => u.Weight).ToArray(), validation.MaxNorm!.Value, aggregation.Privacy, noise ?? GaussianNoise.Secure())
            : null;
        var (classes, rows) = ClassAdmission.Decide(updates, strategy, aggregation);
        var admitted = classes.Where(c => c.Admitted).Select(c => c.Label).ToArray();
        var grownLayout = admitted.Length == 0 ? layout : layout.Grow(admitted);
        // Δ, the weights and the optimiser state on the grown head: an admitted class's rows are a step from zero like any other.
        var weights = HeadRows.AppendZeros(ParameterVector.Flatten(globalWeights, layout.Head), layout, grownLayout, rows.Count);
        var step = ServerOptimizers.Create(aggregation.ServerOptimizer, aggregation.ServerLearningRate)
            .Step(HeadRows.Grow(optimizerState, layout, grownLayout, rows.Count), HeadRows.Append(update, layout, grownLayout, rows));
        for (var i = 0; i < weights.Length; i++) weights[i] += step.Update[i];
        var grown = ParameterVector.Unflatten(weights, grownLayout.Head);
        var used = aligned.Select(u => u.Delta).ToArray();
        var metrics = new RoundMetrics(
            Deltas: used.Length,
            Dropped: dropped.Count,
            Devices: devices.Length,
            Samples: used.Aggregate(0L, (sum, u) => SaturatingAdd(sum, u.SampleCount)),
            MeanStaleness: aligned.Average(u => u.Staleness),
            UpdateNorm: AggregationMath.L2Norm(step.Update))
        {
            NewClasses = admitted.Length,
            ServerOptimizer = aggregation.ServerOptimizer.Kind,
        };
        return new RoundResult(grown, used, dropped, metrics)
        {
            Layout = grownLayout,
            NewClasses = classes,
            Privacy = privacy,
            OptimizerState = step.State,
        };
    }

    /// <summary>One device's aligned deltas as one weighted update: summed, clipped (new-class rows included), weighted once.</summary>
    private static (AlignedUpdate Update, double Weight) DeviceUpdate(IEnumerable<(PendingDelta Delta, int Staleness, AlignedUpdate Update)> deltas, bool bySamples,
        AggregationOptions aggregation, ValidationOptions validation)
    {
        AlignedUpdate? sum = null;
        long samples = 0;
        var staleness = 0;
        foreach (var (p, s, update) in deltas)
        {
            if (sum is null) sum = update;
            else sum.Add(update);
            samples = SaturatingAdd(samples, p.SampleCount);
            staleness = Math.Max(staleness, s);
        }
        // In reject mode every single delta is within the bound already; the sum of many need not be.
        if (validation.MaxNorm is { } max) sum!.ClipToNorm(max);
        var discount = AggregationMath.StalenessDiscount(staleness, aggregation.StalenessAlpha);
        return (sum!, bySamples ? Math.Min(samples, aggregation.MaxSamplesPerDelta) * discount : discount);
    }

    /// <summary>Sample counts are the devices' claims: 2^62 + 2^62 must not overflow the round.</summary>
    private static long SaturatingAdd(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;
}
