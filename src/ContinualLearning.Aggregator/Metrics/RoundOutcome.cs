namespace ContinualLearning.Aggregator.Metrics;

/// <summary>How an aggregation round ended (the <c>cl.round.outcome</c> attribute of <c>cl.aggregator.rounds</c>).</summary>
internal enum RoundOutcome
{
    /// <summary>A version was made and waits for its rollout.</summary>
    Candidate,

    /// <summary>A version was made and the holdout gate refused it.</summary>
    Rejected,

    /// <summary>The round ran and made no version (too few usable deltas or devices after the checks).</summary>
    Held,

    /// <summary>Another aggregator changed the round's inputs while it ran (made a version, started a rollout, used its deltas); nothing was kept and the deltas stay buffered.</summary>
    Superseded,

    /// <summary>The aggregation transaction threw; the deltas stay buffered for the next tick.</summary>
    Failed,
}

/// <summary>The attribute text of a <see cref="RoundOutcome"/>.</summary>
internal static class RoundOutcomeText
{
    public static string ToText(this RoundOutcome outcome) => outcome switch
    {
        RoundOutcome.Candidate => "candidate",
        RoundOutcome.Rejected => "rejected",
        RoundOutcome.Held => "held",
        RoundOutcome.Superseded => "superseded",
        _ => "failed",
    };
}
