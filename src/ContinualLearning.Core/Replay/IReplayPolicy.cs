namespace ContinualLearning.Replay;

/// <summary>The replay admission policies the product ships.</summary>
public enum ReplayPolicyKind
{
    /// <summary>Reservoir sampling (Vitter's Algorithm R): a uniform sample of everything ever offered.</summary>
    Reservoir,
    /// <summary>Class-balanced: equal quota per class; a full buffer gives room to a minority class by evicting from the largest class.</summary>
    ClassBalanced,
}

/// <summary>
/// Pure admission logic of a bounded replay buffer whose storage is <see cref="Capacity"/> numbered slots.
/// The policy only decides <em>which slot</em> an offered sample goes to; whoever owns the storage writes it.
/// Not thread-safe: the owner serialises calls.
/// </summary>
public interface IReplayPolicy
{
    /// <summary>Which policy this is.</summary>
    ReplayPolicyKind Kind { get; }

    /// <summary>Number of slots.</summary>
    int Capacity { get; }

    /// <summary>Slots in use; always the slots 0 … Count−1.</summary>
    int Count { get; }

    /// <summary>Samples offered so far (admitted or not).</summary>
    long Seen { get; }

    /// <summary>
    /// Decides about one offered sample of class <paramref name="classIndex"/> (−1 when labels are not classes):
    /// returns the slot to write it to (overwriting that slot's sample), or −1 to reject it.
    /// </summary>
    int Offer(int classIndex);

    /// <summary>Class of the sample in <paramref name="slot"/> (−1 when labels are not classes).</summary>
    int ClassOfSlot(int slot);

    /// <summary>The state needed to resume after a restart (see <see cref="ReplayPolicy.Restore"/>).</summary>
    ReplayPolicyState ExportState();
}

/// <summary>
/// Resumable policy state: the class of each used slot, the number of samples offered,
/// and (class-balanced) the number offered per class.
/// </summary>
public sealed record ReplayPolicyState(int[] SlotClasses, long Seen, long[] SeenPerClass);

/// <summary>Factory for the policies.</summary>
public static class ReplayPolicy
{
    /// <summary>Creates an empty policy.</summary>
    /// <param name="kind">Which policy.</param>
    /// <param name="capacity">Number of slots (≥ 1).</param>
    /// <param name="classCount">Number of classes; needed (≥ 1) by <see cref="ReplayPolicyKind.ClassBalanced"/>.</param>
    /// <param name="seed">Seed of the policy's own random stream, so runs are reproducible.</param>
    public static IReplayPolicy Create(ReplayPolicyKind kind, int capacity, int classCount, int seed) => kind switch
    {
        ReplayPolicyKind.Reservoir => new ReservoirPolicy(capacity, seed),
        ReplayPolicyKind.ClassBalanced => new ClassBalancedPolicy(capacity, classCount, seed),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, $"Unknown replay policy '{kind}'; use Reservoir or ClassBalanced."),
    };

    /// <summary>Re-creates a policy from a saved state (the seed is mixed with the saved count so a restart does not replay the same random stream).</summary>
    public static IReplayPolicy Restore(ReplayPolicyKind kind, int capacity, int classCount, int seed, ReplayPolicyState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var mixed = unchecked(seed ^ (int)state.Seen ^ (int)(state.Seen >> 32) * 31);
        return kind switch
        {
            ReplayPolicyKind.Reservoir => new ReservoirPolicy(capacity, mixed, state),
            ReplayPolicyKind.ClassBalanced => new ClassBalancedPolicy(capacity, classCount, mixed, state),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, $"Unknown replay policy '{kind}'; use Reservoir or ClassBalanced."),
        };
    }

    internal static void CheckCapacity(int capacity)
    {
        if (capacity < 1)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"Replay capacity is {capacity}; it must be at least 1.");
    }

    internal static void CheckState(ReplayPolicyState state, int capacity)
    {
        if (state.SlotClasses.Length > capacity)
            throw new ArgumentException($"Saved replay state holds {state.SlotClasses.Length} samples but the capacity is {capacity}.", nameof(state));
        if (state.Seen < state.SlotClasses.Length)
            throw new ArgumentException($"Saved replay state has seen {state.Seen} samples but holds {state.SlotClasses.Length}.", nameof(state));
    }
}
