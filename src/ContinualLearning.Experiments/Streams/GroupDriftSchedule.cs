namespace ContinualLearning.Streams;

/// <summary>
/// When each group of a fleet changes concept: group g is in <see cref="Start"/>[g] until round
/// <see cref="DriftRound"/>[g], then abruptly in <see cref="After"/>[g]. Device i is in group i mod <see cref="Groups"/>.
/// </summary>
public sealed record GroupDriftSchedule(IReadOnlyList<int> Start, IReadOnlyList<int> After, IReadOnlyList<int> DriftRound)
{
    /// <summary>
    /// The federated drift benchmark's three groups A, B, C: concepts 3, 4, 1 switching to 2, 3, 4 at rounds 20, 40,
    /// 60. B moves to the concept A left and C to the one B left (recurring concepts), A to one no group has had.
    /// </summary>
    public static GroupDriftSchedule ThreeGroups { get; } = new([3, 4, 1], [2, 3, 4], [20, 40, 60]);

    /// <summary>Number of groups.</summary>
    public int Groups => Start.Count;

    /// <summary>The group device <paramref name="device"/> is in.</summary>
    public int GroupOf(int device) => device % Groups;

    /// <summary>The concept group <paramref name="group"/> is in during round <paramref name="round"/>.</summary>
    public int ConceptOf(int group, int round) => round < DriftRound[group] ? Start[group] : After[group];
}
