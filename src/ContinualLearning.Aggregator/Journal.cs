using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Aggregator.Registry;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Aggregator;

/// <summary>
/// Where a rejection or a decision is written down, whoever makes it: the registry row and the meter count (and, for a
/// rejection, the log line) happen together here and nowhere else, so they can never disagree. Rollout decisions are
/// logged by the coordinator, which knows more to say about them.
/// </summary>
internal sealed partial class Journal(ModelRegistry registry, AggregatorMetrics metrics, ILogger logger)
{
    /// <summary>A delta refused on arrival or dropped from the buffer at aggregation.</summary>
    public void Reject(RejectionRecord rejection)
    {
        registry.Rejections.Record(rejection);
        metrics.DeltaRejected(rejection.Reason);
        LogRejected(logger, rejection.Reason.ToText(), rejection.Message);
    }

    /// <summary>A gate or rollout decision about <paramref name="version"/>, with the numbers behind it.</summary>
    public void Decide(string name, string version, DecisionKind decision, string reason, string numbersJson)
    {
        registry.Decisions.Record(name, version, decision, reason, numbersJson);
        metrics.Decided(decision);
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Warning, Message = "Rejected ({Reason}): {Message}")]
    private static partial void LogRejected(ILogger logger, string reason, string message);
}
