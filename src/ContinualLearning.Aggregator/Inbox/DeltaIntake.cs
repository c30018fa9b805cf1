using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Validation;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Aggregator.Inbox;

/// <summary>A delta payload as received, by the device id of its topic.</summary>
internal readonly record struct ReceivedDelta(string DeviceId, byte[] Payload);

/// <summary>
/// Validates and stores a batch of received deltas in ONE registry transaction: the accepted ones are admitted
/// together (<see cref="DeltaLedger"/>, same rules as one by one: duplicates, pending bounds) and the rejections of the
/// batch are recorded in the same transaction, so a batch is either stored whole or not at all — what lets its
/// messages be acknowledged together after the commit (<see cref="DeltaBatcher"/>). Throws when the registry cannot write.
/// Each delta is buffered under the model its header names (with clustering, the cluster model it trained from), which
/// <paramref name="validation"/> says is served; the pending bounds hold per model.
/// </summary>
internal sealed partial class DeltaIntake(
    ModelRegistry registry,
    Func<IDeltaValidationContext> validation,
    Journal journal,
    AggregatorOptions options,
    AggregatorMetrics metrics,
    ILogger logger,
    Action bufferFull)
{
    /// <summary>An intake for the one model <paramref name="validation"/> answers for.</summary>
    public DeltaIntake(ModelRegistry registry, RegistryValidationContext validation, Journal journal, AggregatorOptions options, AggregatorMetrics metrics, ILogger logger, Action bufferFull)
        : this(registry, validation.Snapshot, journal, options, metrics, logger, bufferFull)
    {
    }

    /// <summary>The verdict of each delta, in input order.</summary>
    public DeltaVerdict[] Store(IReadOnlyList<ReceivedDelta> deltas)
    {
        ArgumentNullException.ThrowIfNull(deltas);
        var context = validation();
        var now = context.Now;
        var verdicts = new DeltaVerdict[deltas.Count];
        var pending = new List<(string Model, PendingDelta Delta)>(deltas.Count);
        var pendingAt = new List<int>(deltas.Count);
        for (var i = 0; i < deltas.Count; i++)
        {
            var verdict = verdicts[i] = DeltaValidator.Validate(deltas[i].DeviceId, deltas[i].Payload, context, options.Validation);
            if (verdict is not { Accepted: true, Delta.Header: var h }) continue;
            pending.Add((h.ModelName, new PendingDelta(h.DeltaId.ToString("D"), h.DeviceId, h.BaseVersion, h.SampleCount, now, deltas[i].Payload)));
            pendingAt.Add(i);
        }
        var pendingAfter = 0;
        registry.InTransaction(() =>
        {
            // One admission per model (one, the served model, without clustering), in the batch's order within each.
            foreach (var model in pending.Select(p => p.Model).Distinct(StringComparer.Ordinal))
            {
                var at = Enumerable.Range(0, pending.Count).Where(j => pending[j].Model == model).ToArray();
                var batch = at.Select(j => pending[j].Delta).ToArray();
                var admissions = registry.Deltas.AdmitBatch(model, batch, PendingAdmission.Limits(options.Aggregation), out var after);
                pendingAfter = Math.Max(pendingAfter, after);
                for (var k = 0; k < at.Length; k++)
                    verdicts[pendingAt[at[k]]] = PendingAdmission.Verdict(admissions[k], batch[k], verdicts[pendingAt[at[k]]], options.Aggregation);
            }
            for (var i = 0; i < verdicts.Length; i++)
            {
                if (verdicts[i].Accepted) continue;
                var header = verdicts[i].Delta?.Header;
                journal.Reject(new RejectionRecord(now, header?.DeviceId ?? deltas[i].DeviceId, header?.DeltaId.ToString("D"), verdicts[i].Reason!.Value, verdicts[i].Message));
            }
        });
        var accepted = 0;
        foreach (var verdict in verdicts)
        {
            if (!verdict.Accepted) continue;
            accepted++;
            metrics.DeltaAccepted();
            LogAccepted(logger, verdict.Message);
        }
        // Once per batch: a full buffer wakes the aggregation loop.
        if (accepted > 0 && pendingAfter >= options.Aggregation.BufferSize) bufferFull();
        return verdicts;
    }

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "{Message}")]
    private static partial void LogAccepted(ILogger logger, string message);
}
