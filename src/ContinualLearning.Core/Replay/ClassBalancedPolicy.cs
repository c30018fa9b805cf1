namespace ContinualLearning.Replay;

/// <summary>
/// Class-balanced replay (after Chrysakis &amp; Moens, "Online continual learning from imbalanced data", ICML 2020):
/// <list type="bullet">
/// <item>While slots are free, every sample is admitted.</item>
/// <item>When full, a sample of a class that is <em>not</em> among the largest classes replaces a random sample
/// of a largest class (ties broken at random), so minority classes grow toward an equal share.</item>
/// <item>A sample of a largest class replaces a random sample of its own class with probability
/// stored(c) / seen(c) (reservoir within the class), so each class's share is a uniform sample of that class.</item>
/// </list>
/// Once every class has been offered enough samples, class counts differ by at most one.
/// </summary>
internal sealed class ClassBalancedPolicy : IReplayPolicy
{
    private readonly Random _rng;
    private readonly int[] _slotClass;
    private readonly int[] _posInClass;
    private readonly List<int>[] _slotsByClass;
    private readonly long[] _seenPerClass;

    public ClassBalancedPolicy(int capacity, int classCount, int seed)
    {
        ReplayPolicy.CheckCapacity(capacity);
        if (classCount < 1)
            throw new ArgumentOutOfRangeException(nameof(classCount), classCount, $"Class-balanced replay needs the number of classes (≥ 1); got {classCount}.");
        Capacity = capacity;
        ClassCount = classCount;
        _rng = new Random(seed);
        _slotClass = new int[capacity];
        _posInClass = new int[capacity];
        _slotsByClass = new List<int>[classCount];
        for (var c = 0; c < classCount; c++) _slotsByClass[c] = [];
        _seenPerClass = new long[classCount];
    }

    internal ClassBalancedPolicy(int capacity, int classCount, int seed, ReplayPolicyState state)
        : this(capacity, classCount, seed)
    {
        ReplayPolicy.CheckState(state, capacity);
        for (var slot = 0; slot < state.SlotClasses.Length; slot++)
        {
            CheckClass(state.SlotClasses[slot]);
            Place(slot, state.SlotClasses[slot]);
        }
        Count = state.SlotClasses.Length;
        Seen = state.Seen;
        for (var c = 0; c < Math.Min(classCount, state.SeenPerClass.Length); c++)
            _seenPerClass[c] = Math.Max(state.SeenPerClass[c], _slotsByClass[c].Count);
    }

    public ReplayPolicyKind Kind => ReplayPolicyKind.ClassBalanced;

    public int Capacity { get; }

    public int ClassCount { get; }

    public int Count { get; private set; }

    public long Seen { get; private set; }

    /// <summary>Samples of class <paramref name="classIndex"/> currently held.</summary>
    public int CountOf(int classIndex) => _slotsByClass[classIndex].Count;

    public int Offer(int classIndex)
    {
        CheckClass(classIndex);
        Seen++;
        _seenPerClass[classIndex]++;
        if (Count < Capacity)
        {
            var free = Count++;
            Place(free, classIndex);
            return free;
        }

        var largest = 0;
        for (var c = 0; c < ClassCount; c++) largest = Math.Max(largest, _slotsByClass[c].Count);
        int victimClass;
        if (_slotsByClass[classIndex].Count < largest)
        {
            victimClass = PickLargest(largest);
        }
        else
        {
            // Reservoir within the class: keep each of its seen(c) samples with equal probability.
            var stored = _slotsByClass[classIndex].Count;
            if (_rng.NextInt64(_seenPerClass[classIndex]) >= stored) return -1;
            victimClass = classIndex;
        }
        var members = _slotsByClass[victimClass];
        var slot = members[_rng.Next(members.Count)];
        Remove(slot);
        Place(slot, classIndex);
        return slot;
    }

    public int ClassOfSlot(int slot) => _slotClass[slot];

    public ReplayPolicyState ExportState() => new(_slotClass.AsSpan(0, Count).ToArray(), Seen, (long[])_seenPerClass.Clone());

    private int PickLargest(int largest)
    {
        // Uniform among tied largest classes so no class index is systematically favoured.
        var ties = 0;
        var chosen = -1;
        for (var c = 0; c < ClassCount; c++)
        {
            if (_slotsByClass[c].Count != largest) continue;
            ties++;
            if (_rng.Next(ties) == 0) chosen = c;
        }
        return chosen;
    }

    private void Place(int slot, int classIndex)
    {
        _slotClass[slot] = classIndex;
        _posInClass[slot] = _slotsByClass[classIndex].Count;
        _slotsByClass[classIndex].Add(slot);
    }

    private void Remove(int slot)
    {
        // Swap-remove keeps removal O(1); the moved slot's position is updated.
        var list = _slotsByClass[_slotClass[slot]];
        var pos = _posInClass[slot];
        var last = list[^1];
        list[pos] = last;
        _posInClass[last] = pos;
        list.RemoveAt(list.Count - 1);
    }

    private void CheckClass(int classIndex)
    {
        if ((uint)classIndex >= (uint)ClassCount)
            throw new ArgumentOutOfRangeException(nameof(classIndex), classIndex, $"Class index {classIndex} is outside 0…{ClassCount - 1}; class-balanced replay needs class labels within the configured label count.");
    }
}
