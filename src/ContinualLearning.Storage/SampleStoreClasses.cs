using System.Globalization;
using System.Text;

namespace ContinualLearning.Storage;

public sealed partial class SampleStore
{
    /// <summary>
    /// Changes a class-label store's label set: class c of every stored sample and replay row becomes
    /// <c>oldToNew[c]</c>, rows whose class maps to −1 are deleted, and the database is recorded as having
    /// <paramref name="labelCount"/> classes. The change is one transaction; this store is then closed (its files kept,
    /// whatever <see cref="SampleStoreOptions.DeleteOnDispose"/> says) and the store reopened with the new count is
    /// returned, so the samples and the replay buffer (its policy state remapped too) survive a class being added,
    /// moved or removed.
    /// </summary>
    /// <param name="oldToNew">One entry per current class: its new index, or −1 to delete its rows.</param>
    /// <param name="labelCount">The new number of classes (every non-negative entry must be below it).</param>
    /// <exception cref="InvalidOperationException">The store holds regression values, not class labels.</exception>
    /// <exception cref="ArgumentException">The map has the wrong length, an entry out of range, or two classes mapped to one.</exception>
    public SampleStore RemapClasses(IReadOnlyList<int> oldToNew, int labelCount)
    {
        ArgumentNullException.ThrowIfNull(oldToNew);
        if (Options.LabelKind != StoreLabelKind.Class)
            throw new InvalidOperationException($"The sample store at '{DatabasePath}' holds {Options.LabelKind} labels; only class labels can be remapped.");
        if (labelCount < 1)
            throw new ArgumentOutOfRangeException(nameof(labelCount), labelCount, "A class-label store needs at least 1 class.");
        if (oldToNew.Count != Options.LabelCount)
            throw new ArgumentException($"The class map has {oldToNew.Count} entries; the store has {Options.LabelCount} classes.", nameof(oldToNew));
        var targets = new HashSet<int>();
        foreach (var n in oldToNew)
            if (n < -1 || n >= labelCount || (n >= 0 && !targets.Add(n)))
                throw new ArgumentException($"Class map entry {n} is invalid: use −1 or a distinct index below {labelCount} for each class.", nameof(oldToNew));

        var remapped = Options with { LabelCount = labelCount };
        lock (_gate)
        {
            ThrowIfDisposed();
            InTransaction(() => RemapLocked(oldToNew, remapped));
            _disposed = true;
            _db.Dispose();
        }
        _sweep?.Dispose();
        return new SampleStore(remapped, _time);
    }

    private void RemapLocked(IReadOnlyList<int> oldToNew, SampleStoreOptions remapped)
    {
        var dropped = Enumerable.Range(0, oldToNew.Count).Where(c => oldToNew[c] < 0).ToArray();
        var moved = Enumerable.Range(0, oldToNew.Count).Where(c => oldToNew[c] >= 0 && oldToNew[c] != c).ToArray();
        foreach (var table in new[] { "samples", "replay" })
        {
            if (dropped.Length > 0)
                _db.Execute($"DELETE FROM {table} WHERE label_class IN ({string.Join(",", dropped.Select(Invariant))})");
            if (moved.Length > 0)
            {
                var cases = new StringBuilder();
                foreach (var c in moved) cases.Append(CultureInfo.InvariantCulture, $" WHEN {c} THEN {oldToNew[c]}");
                _db.Execute($"UPDATE {table} SET label_class = CASE label_class{cases} ELSE label_class END WHERE label_class IS NOT NULL");
            }
        }
        if (dropped.Length > 0) CompactReplaySlotsLocked();

        // The policy state: per-class offered counts follow their classes; a dropped class's count leaves the total.
        if (_db.GetMeta("replay_state") is byte[] state)
        {
            var counts = ReplayBuffer.FromBytes(state);
            if (counts.Length > 1)
            {
                var perClass = new long[remapped.LabelCount];
                var seen = counts[0];
                for (var c = 0; c < Math.Min(oldToNew.Count, counts.Length - 1); c++)
                {
                    if (oldToNew[c] >= 0) perClass[oldToNew[c]] = counts[c + 1];
                    else seen -= counts[c + 1];
                }
                _db.SetMeta("replay_state", ReplayBuffer.ToBytes([Math.Max(seen, 0), .. perClass]));
            }
        }
        if (_db.GetMeta("replay_config") as string == ReplayBuffer.ConfigurationKey(Options))
            _db.SetMeta("replay_config", ReplayBuffer.ConfigurationKey(remapped));
        _db.SetMeta("config", SampleDatabase.ConfigurationKey(remapped));
    }

    // The replay policy is restored from slots 0…n−1 in order; deleting rows leaves gaps, so the survivors move down
    // (ascending, so each target slot is already free) and keep their relative order.
    private void CompactReplaySlotsLocked()
    {
        var slots = new List<long>();
        using (var cmd = Connection.CreateCommand())
        {
            cmd.CommandText = "SELECT slot FROM replay ORDER BY slot";
            using var reader = cmd.ExecuteReader();
            while (reader.Read()) slots.Add(reader.GetInt64(0));
        }
        for (var i = 0; i < slots.Count; i++)
            if (slots[i] != i)
                _db.Execute($"UPDATE replay SET slot = {Invariant(i)} WHERE slot = {slots[i].ToString(CultureInfo.InvariantCulture)}");
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
