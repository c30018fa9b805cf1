using ContinualLearning.Aggregator.Strategies;

namespace ContinualLearning.Aggregator.Clustering;

/// <summary>
/// The flattened model of every cluster (<see cref="ParameterVector"/> order), updated by a round's
/// <see cref="ClusteringDecision"/> and the devices' deltas. Each cluster aggregates only the deltas of the devices that
/// trained from it and stay in it, with any registered strategy; a new cluster starts from its parent plus its creator's delta.
/// </summary>
public sealed class ClusterModels
{
    private readonly SortedDictionary<int, float[]> _models = [];

    /// <summary>Starts with <paramref name="initial"/> as the model of <paramref name="cluster"/>.</summary>
    public ClusterModels(int cluster, float[] initial)
    {
        ArgumentNullException.ThrowIfNull(initial);
        _models[cluster] = (float[])initial.Clone();
    }

    /// <summary>The model of <paramref name="cluster"/> (not a copy: do not modify).</summary>
    public float[] this[int cluster] => _models.TryGetValue(cluster, out var m)
        ? m
        : throw new KeyNotFoundException($"There is no model for cluster {cluster}; the clusters are {string.Join(", ", _models.Keys)}.");

    /// <summary>Cluster ids with a model, ascending.</summary>
    public IReadOnlyCollection<int> Clusters => _models.Keys;

    /// <summary>
    /// Applies one round: aggregates each cluster's staying members' deltas with <paramref name="kind"/>, starts created
    /// clusters, then drops merged-away and retired clusters. <paramref name="deltas"/> are keyed by device id and are
    /// relative to the model of the cluster the device reported (<see cref="ClusterAssignment.From"/>).
    /// </summary>
    public void Apply(ClusteringDecision decision, IReadOnlyDictionary<string, WeightedUpdate> deltas, StrategyKind kind = StrategyKind.FedAvg, StrategyOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(decision);
        ArgumentNullException.ThrowIfNull(deltas);
        var before = _models.ToDictionary(p => p.Key, p => p.Value);
        foreach (var group in decision.Assignments.Where(a => a.Kind == AssignmentKind.Stayed && deltas.ContainsKey(a.DeviceId)).GroupBy(a => a.From))
        {
            if (!_models.TryGetValue(group.Key, out var model)) continue;
            var update = AggregationStrategies.Aggregate(kind, group.OrderBy(a => a.DeviceId, StringComparer.Ordinal).Select(a => deltas[a.DeviceId]).ToArray(), options);
            _models[group.Key] = Add(model, update.AsSpan());
        }
        foreach (var c in decision.Created)
        {
            var parent = before.TryGetValue(c.Parent, out var p) ? p : throw new ArgumentException($"Cluster {c.Cluster} is created from cluster {c.Parent}, which has no model.", nameof(decision));
            _models[c.Cluster] = deltas.TryGetValue(c.Creator, out var d) ? Add(parent, d.Values) : (float[])parent.Clone();
        }
        foreach (var m in decision.Merged) _models.Remove(m.Absorbed);
        foreach (var id in decision.Retired) _models.Remove(id);
    }

    private static float[] Add(float[] model, ReadOnlySpan<float> delta)
    {
        if (delta.Length != model.Length)
            throw new ArgumentException($"A delta has {delta.Length} values; the cluster models have {model.Length}. All deltas must flatten the same head.", nameof(delta));
        var result = new float[model.Length];
        for (var i = 0; i < result.Length; i++) result[i] = model[i] + delta[i];
        return result;
    }
}
