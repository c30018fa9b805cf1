using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Aggregator.Validation;
using ContinualLearning.Deltas;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Aggregator.Aggregation;

/// <summary>A buffered delta with what the registry says about its base version at aggregation time.</summary>
/// <param name="Delta">The buffered delta.</param>
/// <param name="Staleness">Releases published since its base version; null when the registry does not know the base.</param>
/// <param name="BaseRolledBack">True when its base version was rolled back.</param>
internal readonly record struct BufferedDelta(PendingDelta Delta, int? Staleness, bool BaseRolledBack);

/// <summary>A buffered delta the round could not use, and why.</summary>
internal readonly record struct DroppedDelta(PendingDelta Delta, RejectionReason Reason, string Message);

/// <summary>What one round produced: the new head weights (null when no delta was usable), the deltas used and dropped, and its numbers.</summary>
internal sealed record RoundResult(IReadOnlyList<NamedTensor>? Weights, IReadOnlyList<PendingDelta> Used, IReadOnlyList<DroppedDelta> Dropped, RoundMetrics? Metrics);

/// <summary>
/// One FedBuff aggregation round as a pure function: no registry, no clock, no I/O. Deltas whose base became unusable
/// since they were accepted (unknown, rolled back, too stale) are dropped with their reason; the rest are decoded,
/// flattened, clipped when the norm bound clips, weighted by samples × 1/(1+s)^α, combined by the configured
/// strategy, and applied to the global weights with the server learning rate η.
/// </summary>
internal static class AggregationRound
{
    public static RoundResult Run(IReadOnlyList<NamedTensor> globalWeights, HeadSpec head, IReadOnlyList<BufferedDelta> pending,
        AggregationOptions aggregation, ValidationOptions validation)
    {
        ArgumentNullException.ThrowIfNull(pending);
        ArgumentNullException.ThrowIfNull(aggregation);
        ArgumentNullException.ThrowIfNull(validation);
        var updates = new List<WeightedUpdate>();
        var used = new List<PendingDelta>();
        var dropped = new List<DroppedDelta>();
        double stalenessSum = 0;
        foreach (var (p, staleness, rolledBack) in pending)
        {
            RejectionReason? problem = staleness is null ? RejectionReason.UnknownBaseVersion
                : rolledBack ? RejectionReason.RolledBackBase
                : staleness > validation.MaxStaleness ? RejectionReason.TooStale : null;
            if (problem is { } reason)
            {
                dropped.Add(new DroppedDelta(p, reason, $"buffered delta {p.DeltaId} from '{p.DeviceId}' (base {p.BaseVersion}) dropped at aggregation: {reason.ToText()}, staleness {staleness}."));
                continue;
            }
            var vector = ParameterVector.Flatten(DeltaCodec.Decode(p.Payload), head);
            if (validation.MaxNorm is { } max && validation.NormClipMode == NormClipMode.Clip)
                vector = AggregationMath.ClipToNorm(vector, max);
            updates.Add(new WeightedUpdate(vector, p.SampleCount * AggregationMath.StalenessDiscount(staleness!.Value, aggregation.StalenessAlpha)));
            used.Add(p);
            stalenessSum += staleness.Value;
        }
        if (updates.Count == 0) return new RoundResult(null, used, dropped, null);

        var update = AggregationStrategies.Create(aggregation.Strategy, aggregation.StrategyOptions).Aggregate(updates);
        var weights = ParameterVector.Flatten(globalWeights, head);
        for (var i = 0; i < weights.Length; i++) weights[i] += (float)(aggregation.ServerLearningRate * update[i]);
        var metrics = new RoundMetrics(
            Deltas: used.Count,
            Dropped: dropped.Count,
            Devices: used.Select(u => u.DeviceId).Distinct().Count(),
            Samples: used.Sum(u => u.SampleCount),
            MeanStaleness: stalenessSum / used.Count,
            UpdateNorm: AggregationMath.L2Norm(update) * aggregation.ServerLearningRate);
        return new RoundResult(ParameterVector.Unflatten(weights, head), used, dropped, metrics);
    }
}
