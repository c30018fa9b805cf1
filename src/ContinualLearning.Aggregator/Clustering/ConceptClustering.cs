namespace ContinualLearning.Aggregator.Clustering;

/// <summary>
/// Concept-aware clustering of a fleet (docs/federated.md, "Concept-aware aggregation"): one model per cluster, and each
/// device in the cluster whose model has the lowest loss on its recent labelled data (IFCA, Ghosh et al. 2020; FedDrift,
/// Jothimurugesan et al. 2023). A device that fits no cluster (its loss jumped above its reference, or its own model beats
/// every cluster) starts a new one from its trained model; two clusters whose models serve each other's devices equally
/// well merge (FedDrift's loss distance). The number of clusters is capped; when the cap is reached, the cluster idle the
/// longest makes room, otherwise an unfit device stays where it fits best.
/// Pure and deterministic: no I/O, no clock, no randomness; ties go to the lower cluster id and the ordinal-first device.
/// It holds only the assignment state; the models live with the caller (<see cref="ClusterModels"/>).
/// </summary>
public sealed class ConceptClustering
{
    private readonly ClusteringOptions _options;
    private readonly SortedDictionary<int, ClusterState> _clusters = [];
    private readonly Dictionary<string, DeviceState> _devices = new(StringComparer.Ordinal);
    private readonly List<int> _evicted = [];
    private int _nextId;

    /// <summary>Starts with one cluster (<see cref="InitialCluster"/>) that every new device joins.</summary>
    public ConceptClustering(ClusteringOptions? options = null)
    {
        _options = options ?? new ClusteringOptions();
        _options.Validate();
        InitialCluster = NewCluster(0);
    }

    /// <summary>The first cluster's id.</summary>
    public int InitialCluster { get; }

    /// <summary>Live cluster ids, ascending.</summary>
    public IReadOnlyCollection<int> Clusters => _clusters.Keys;

    /// <summary>The cluster a device serves from: its assignment, or for an unknown device the cluster with the most devices (lowest id on a tie).</summary>
    public int ClusterOf(string deviceId) =>
        _devices.TryGetValue(deviceId, out var d) && _clusters.ContainsKey(d.Cluster) ? d.Cluster : Largest();

    /// <summary>How many known devices are assigned to <paramref name="cluster"/>.</summary>
    public int Members(int cluster) => _devices.Values.Count(d => d.Cluster == cluster);

    /// <summary>Assigns every reporting device for the next round, creates, merges and retires clusters. Devices that did not report keep their cluster.</summary>
    public ClusteringDecision Decide(int round, IReadOnlyList<LossReport> reports) => Decide(round, reports, null);

    /// <summary>
    /// As <see cref="Decide(int, IReadOnlyList{LossReport})"/>, with clusters the caller knows to be still untrained
    /// (<paramref name="untrained"/>: never merged this round whatever their age). The product's rounds are ticks with
    /// any new report, which at fleet scale come seconds apart, so <see cref="ClusteringOptions.GraceRounds"/> alone
    /// would let a cluster merge back before it aggregated a single version of its own; the aggregator passes the
    /// clusters with fewer than that many versions of their own (docs/federated.md, "In the product").
    /// </summary>
    public ClusteringDecision Decide(int round, IReadOnlyList<LossReport> reports, IReadOnlySet<int>? untrained)
    {
        ArgumentNullException.ThrowIfNull(reports);
        var ordered = reports.OrderBy(r => r.DeviceId, StringComparer.Ordinal).ToArray();
        if (ordered.Select(r => r.DeviceId).Distinct(StringComparer.Ordinal).Count() != ordered.Length)
            throw new ArgumentException("Each device may report once per round; a device id appears twice.", nameof(reports));

        var targets = new Dictionary<string, (int To, AssignmentKind Kind, double Loss)>(StringComparer.Ordinal);
        var unfit = new List<(LossReport Report, double Advantage)>();
        foreach (var r in ordered)
        {
            var (to, kind, loss) = Assign(r);
            targets[r.DeviceId] = (to, kind, loss);
            var advantage = Unfit(round, r, to, loss);
            if (advantage is { } a && _clusters.ContainsKey(r.Cluster)) unfit.Add((r, a));
        }

        var created = Create(round, unfit, targets);
        var merged = Merge(round, ordered, targets, untrained);
        foreach (var r in ordered) Remember(round, r, targets[r.DeviceId]);
        var retired = _evicted.ToArray();
        _evicted.Clear();
        foreach (var (id, c) in _clusters)
            if (_devices.Values.Any(d => d.Cluster == id)) c.LastUsed = round;

        var assignments = ordered.Select(r => new ClusterAssignment(r.DeviceId, r.Cluster, targets[r.DeviceId].To, targets[r.DeviceId].Kind)).ToArray();
        return new ClusteringDecision(assignments, created, merged, retired);
    }

    /// <summary>IFCA's rule with hysteresis: the lowest-loss cluster, unless the device's own cluster is within <see cref="ClusteringOptions.SwitchMargin"/>.</summary>
    private (int To, AssignmentKind Kind, double Loss) Assign(LossReport r)
    {
        var best = -1;
        var bestLoss = double.PositiveInfinity;
        foreach (var (id, loss) in r.ClusterLosses.OrderBy(p => p.Key))
        {
            if (!_clusters.ContainsKey(id) || !double.IsFinite(loss)) continue;
            if (loss < bestLoss) (best, bestLoss) = (id, loss);
        }
        if (best < 0) return (ClusterOf(r.DeviceId), AssignmentKind.Moved, double.NaN);
        if (_clusters.ContainsKey(r.Cluster) && r.ClusterLosses.TryGetValue(r.Cluster, out var own) && double.IsFinite(own)
            && own <= bestLoss + _options.SwitchMargin)
            return (r.Cluster, AssignmentKind.Stayed, own);
        return (best, best == r.Cluster ? AssignmentKind.Stayed : AssignmentKind.Moved, bestLoss);
    }

    /// <summary>
    /// How far the device is from fitting any cluster (> 0), or null when it fits one or the evidence is too thin. The
    /// local-advantage test asks for more than <see cref="ClusteringOptions.LocalMargin"/> plus
    /// <see cref="ClusteringOptions.LocalConfidence"/> standard errors of the paired difference, when the report has one
    /// for <paramref name="best"/>: an advantage within the noise of the samples it was measured on is no evidence.
    /// </summary>
    private double? Unfit(int round, LossReport r, int best, double bestLoss)
    {
        if (r.Samples < _options.MinSamples || !double.IsFinite(bestLoss)) return null;
        if (_devices.TryGetValue(r.DeviceId, out var d) && round < d.GraceUntil) return null;
        var advantage = double.NegativeInfinity;
        if (d is not null && double.IsFinite(d.Reference)) advantage = bestLoss - d.Reference - _options.DriftMargin;
        if (r.LocalLoss is { } local && double.IsFinite(local))
            advantage = Math.Max(advantage, bestLoss - local - _options.LocalMargin - _options.LocalConfidence * StandardError(r, best));
        return advantage > 0 ? advantage : null;
    }

    /// <summary>The report's standard error for <paramref name="cluster"/>, or 0 when it has none (or an unusable one): the test as without it.</summary>
    private static double StandardError(LossReport r, int cluster) =>
        r.StandardErrors is { } errors && errors.TryGetValue(cluster, out var se) && double.IsFinite(se) && se >= 0 ? se : 0;

    private List<ClusterCreation> Create(int round, List<(LossReport Report, double Advantage)> unfit, Dictionary<string, (int To, AssignmentKind Kind, double Loss)> targets)
    {
        var created = new List<ClusterCreation>();
        foreach (var (r, _) in unfit.OrderByDescending(u => u.Advantage).ThenBy(u => u.Report.DeviceId, StringComparer.Ordinal))
        {
            if (created.Count >= _options.CreationsPerRound) break;
            if (_clusters.Count >= _options.MaxClusters && !EvictIdle(targets)) break;
            var id = NewCluster(round);
            created.Add(new ClusterCreation(id, r.Cluster, r.DeviceId));
            targets[r.DeviceId] = (id, AssignmentKind.Created, double.NaN);
        }
        return created;
    }

    /// <summary>At the cap, the cluster that has had no device for the longest makes room; false when every cluster is in use.</summary>
    private bool EvictIdle(Dictionary<string, (int To, AssignmentKind Kind, double Loss)> targets)
    {
        var used = targets.Values.Select(t => t.To).Concat(_devices.Where(d => !targets.ContainsKey(d.Key)).Select(d => d.Value.Cluster)).ToHashSet();
        var idle = _clusters.Where(c => !used.Contains(c.Key) && !(_options.KeepInitialCluster && c.Key == InitialCluster)).OrderBy(c => c.Value.LastUsed).ThenBy(c => c.Key).Select(c => (int?)c.Key).FirstOrDefault();
        if (idle is null) return false;
        _clusters.Remove(idle.Value);
        _evicted.Add(idle.Value);
        return true;
    }

    /// <summary>At most one merge per round: the closest pair of settled clusters that both have reporting members, if closer than <see cref="ClusteringOptions.MergeDistance"/>.</summary>
    private List<ClusterMerge> Merge(int round, LossReport[] reports, Dictionary<string, (int To, AssignmentKind Kind, double Loss)> targets, IReadOnlySet<int>? untrained)
    {
        var settled = _clusters.Where(c => round - c.Value.Created >= _options.GraceRounds && untrained?.Contains(c.Key) != true).Select(c => c.Key)
            .Where(id => reports.Any(r => r.Cluster == id)).ToArray();
        (int I, int J, double D)? closest = null;
        for (var a = 0; a < settled.Length; a++)
            for (var b = a + 1; b < settled.Length; b++)
                if (ClusterDistance.Between(settled[a], settled[b], reports) is { } d && d < _options.MergeDistance && (closest is null || d < closest.Value.D))
                    closest = (settled[a], settled[b], d);
        if (closest is not { } m) return [];

        int Count(int id) => targets.Values.Count(t => t.To == id) + _devices.Count(d => !targets.ContainsKey(d.Key) && d.Value.Cluster == id);
        var (survivor, absorbed) = _options.KeepInitialCluster && (m.I == InitialCluster || m.J == InitialCluster)
            ? (InitialCluster, m.I == InitialCluster ? m.J : m.I)
            : Count(m.J) > Count(m.I) ? (m.J, m.I) : (m.I, m.J);
        foreach (var key in targets.Keys.ToArray())
            if (targets[key].To == absorbed) targets[key] = (survivor, AssignmentKind.Merged, double.NaN);
        foreach (var d in _devices.Values)
            if (d.Cluster == absorbed) d.Cluster = survivor;
        _clusters.Remove(absorbed);
        return [new ClusterMerge(survivor, absorbed, m.D)];
    }

    /// <summary>The reference loss follows the device's loss under its cluster; a move restarts it and grants the grace period.</summary>
    private void Remember(int round, LossReport r, (int To, AssignmentKind Kind, double Loss) target)
    {
        if (!_devices.TryGetValue(r.DeviceId, out var d))
        {
            d = new DeviceState { Cluster = target.To, Reference = double.NaN };
            _devices[r.DeviceId] = d;
        }
        if (target.Kind == AssignmentKind.Stayed && d.Cluster == target.To)
        {
            d.Reference = double.IsFinite(d.Reference) ? d.Reference + _options.ReferenceRate * (target.Loss - d.Reference) : target.Loss;
            return;
        }
        if (target.Kind == AssignmentKind.Merged && d.Cluster == target.To) return;
        d.Cluster = target.To;
        d.Reference = double.NaN;
        d.GraceUntil = round + 1 + _options.GraceRounds;
    }

    /// <summary>The assignment state, for storing between rounds (a registry row); <see cref="Restore"/> brings it back.</summary>
    public ClusteringState Export() => new(
        _nextId,
        _clusters.Select(c => new ClusterStateEntry(c.Key, c.Value.Created, c.Value.LastUsed)).ToArray(),
        _devices.OrderBy(d => d.Key, StringComparer.Ordinal)
            .Select(d => new DeviceStateEntry(d.Key, d.Value.Cluster, double.IsFinite(d.Value.Reference) ? d.Value.Reference : null, d.Value.GraceUntil)).ToArray());

    /// <summary>A clustering in exactly the state <paramref name="state"/> was exported in: the same next round decides the same.</summary>
    public static ConceptClustering Restore(ClusteringState state, ClusteringOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        var clustering = new ConceptClustering(options);
        if (state.Clusters.Count == 0 || state.Clusters.All(c => c.Id != clustering.InitialCluster))
            throw new ArgumentException($"A clustering state must hold cluster {clustering.InitialCluster}; this one holds {string.Join(", ", state.Clusters.Select(c => c.Id))}.", nameof(state));
        if (state.NextId <= state.Clusters.Max(c => c.Id))
            throw new ArgumentException($"The state's next cluster id {state.NextId} is not above its clusters ({string.Join(", ", state.Clusters.Select(c => c.Id))}); the row is damaged.", nameof(state));
        clustering._clusters.Clear();
        foreach (var c in state.Clusters) clustering._clusters[c.Id] = new ClusterState { Created = c.Created, LastUsed = c.LastUsed };
        foreach (var d in state.Devices) clustering._devices[d.DeviceId] = new DeviceState { Cluster = d.Cluster, Reference = d.Reference ?? double.NaN, GraceUntil = d.GraceUntil };
        clustering._nextId = state.NextId;
        return clustering;
    }

    /// <summary>The device's assigned cluster, or null for a device that never reported.</summary>
    public int? AssignedCluster(string deviceId) => _devices.TryGetValue(deviceId, out var d) && _clusters.ContainsKey(d.Cluster) ? d.Cluster : null;

    /// <summary>Every known device and its cluster, ordinal order of device id.</summary>
    public IReadOnlyList<KeyValuePair<string, int>> Assignments =>
        _devices.OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => KeyValuePair.Create(d.Key, d.Value.Cluster)).ToArray();

    private int NewCluster(int round)
    {
        var id = _nextId++;
        _clusters[id] = new ClusterState { Created = round, LastUsed = round };
        return id;
    }

    private int Largest() =>
        _clusters.Keys.OrderByDescending(id => _devices.Values.Count(d => d.Cluster == id)).ThenBy(id => id).First();

    private sealed class ClusterState
    {
        public int Created { get; init; }
        public int LastUsed { get; set; }
    }

    private sealed class DeviceState
    {
        public int Cluster { get; set; }
        public double Reference { get; set; }
        public int GraceUntil { get; set; }
    }
}
