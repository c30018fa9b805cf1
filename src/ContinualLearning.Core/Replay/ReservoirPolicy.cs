namespace ContinualLearning.Replay;

/// <summary>
/// Vitter's Algorithm R: after n offers every offered sample is in the buffer with probability
/// min(1, capacity / n), independently of when it came. The n-th sample (1-based) fills a free slot,
/// or once full replaces slot j when j = uniform[0, n) falls below the capacity.
/// </summary>
internal sealed class ReservoirPolicy : IReplayPolicy
{
    private readonly Random _rng;
    private readonly int[] _slotClass;

    public ReservoirPolicy(int capacity, int seed)
    {
        ReplayPolicy.CheckCapacity(capacity);
        Capacity = capacity;
        _slotClass = new int[capacity];
        _rng = new Random(seed);
    }

    internal ReservoirPolicy(int capacity, int seed, ReplayPolicyState state)
        : this(capacity, seed)
    {
        ReplayPolicy.CheckState(state, capacity);
        state.SlotClasses.CopyTo(_slotClass, 0);
        Count = state.SlotClasses.Length;
        Seen = state.Seen;
    }

    public ReplayPolicyKind Kind => ReplayPolicyKind.Reservoir;

    public int Capacity { get; }

    public int Count { get; private set; }

    public long Seen { get; private set; }

    public int Offer(int classIndex)
    {
        Seen++;
        int slot;
        if (Count < Capacity)
        {
            slot = Count++;
        }
        else
        {
            var j = _rng.NextInt64(Seen);
            if (j >= Capacity) return -1;
            slot = (int)j;
        }
        _slotClass[slot] = classIndex;
        return slot;
    }

    public int ClassOfSlot(int slot) => _slotClass[slot];

    public ReplayPolicyState ExportState() => new(_slotClass.AsSpan(0, Count).ToArray(), Seen, []);
}
