namespace ContinualLearning.Aggregator.Clustering;

/// <summary>
/// FedDrift's distance between two cluster models (Jothimurugesan et al. 2023, §4.2), from the devices' loss reports:
/// d(i, j) = max(Lᵢ(Dⱼ) − Lⱼ(Dⱼ), Lⱼ(Dᵢ) − Lᵢ(Dᵢ)), where Lₖ(D) is the sample-weighted mean loss of cluster k's model
/// on the recent data of the devices that trained from cluster D. It is small when each model serves the other's devices
/// as well as their own, i.e. both learned the same concept. Parameter distance would not do: two heads that learned
/// the same concept from different starting points can be far apart in weight space.
/// </summary>
public static class ClusterDistance
{
    /// <summary>The distance, or null when either cluster has no reporting member or a member did not evaluate the other model.</summary>
    public static double? Between(int i, int j, IReadOnlyList<LossReport> reports)
    {
        ArgumentNullException.ThrowIfNull(reports);
        var ii = MeanLoss(i, i, reports);
        var ij = MeanLoss(i, j, reports);
        var jj = MeanLoss(j, j, reports);
        var ji = MeanLoss(j, i, reports);
        if (ii is null || ij is null || jj is null || ji is null) return null;
        return Math.Max(ij.Value - jj.Value, ji.Value - ii.Value);
    }

    /// <summary>L_model(D_members): the mean loss of <paramref name="model"/> over the reports of devices that trained from <paramref name="members"/>.</summary>
    public static double? MeanLoss(int model, int members, IReadOnlyList<LossReport> reports)
    {
        ArgumentNullException.ThrowIfNull(reports);
        double sum = 0, weight = 0;
        foreach (var r in reports)
        {
            if (r.Cluster != members) continue;
            if (!r.ClusterLosses.TryGetValue(model, out var loss)) return null;
            sum += loss * r.Samples;
            weight += r.Samples;
        }
        return weight > 0 ? sum / weight : null;
    }
}
