using System.Runtime.InteropServices;
using ContinualLearning.Aggregator.Optimizers;

namespace ContinualLearning.Aggregator.Registry;

/// <summary>
/// The server optimiser's state per model version (table <c>optimizer_states</c>): written with the version a round
/// made, read for the release the next round builds on, so that FedAvgM's momentum and FedAdam's and FedYogi's moments
/// outlive the instance, are the same for every aggregator on the registry, and go back with a rollback.
/// </summary>
public sealed class OptimizerStateStore
{
    private readonly RegistryDatabase _db;

    internal OptimizerStateStore(RegistryDatabase db) => _db = db;

    /// <summary>Stores the state <paramref name="version"/> was made with; meant for the transaction that adds the version. Replaces an earlier row.</summary>
    public void Put(string name, string version, ServerOptimizerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.SecondMoment is { } v && v.Length != state.Momentum.Length)
            throw new ArgumentException($"The second moment has {v.Length} values, the momentum {state.Momentum.Length}; both must cover the same head.", nameof(state));
        // A literal NULL: a NULL parameter is typed as text, which PostgreSQL will not put in a bytea column.
        var second = state.SecondMoment is null ? "NULL" : "@q";
        _db.Execute(
            $"""
            INSERT INTO optimizer_states(name, version, optimizer, steps, momentum, second_moment) VALUES(@n, @v, @o, @s, @m, {second})
            ON CONFLICT(name, version) DO UPDATE SET optimizer = excluded.optimizer, steps = excluded.steps,
                momentum = excluded.momentum, second_moment = excluded.second_moment
            """,
            [("@n", name), ("@v", version), ("@o", state.Kind.ToText()), ("@s", state.Steps), ("@m", Bytes(state.Momentum)), ("@q", SecondMoment(state))]);
    }

    /// <summary>The state stored with <paramref name="version"/>, or null when none was (SGD, or a version made before an optimiser was configured).</summary>
    public ServerOptimizerState? Get(string name, string version) => _db.Query(
        "SELECT optimizer, steps, momentum, second_moment FROM optimizer_states WHERE name=@n AND version=@v",
        r => new ServerOptimizerState(WireText.Parse<ServerOptimizerKind>(r.GetString(0)), RegistryDatabase.ReadLong(r, 1),
            Floats((byte[])r.GetValue(2)), r.IsDBNull(3) ? null : Floats((byte[])r.GetValue(3))),
        ("@n", name), ("@v", version)).FirstOrDefault();

    /// <summary>
    /// Deletes the states of <paramref name="versions"/> (versions retention no longer keeps a bundle for: no round can
    /// build on them again); returns how many rows went. Named one by one, never "all but": a version committed since
    /// the caller listed them keeps its state.
    /// </summary>
    public int Forget(string name, IEnumerable<string> versions)
    {
        ArgumentNullException.ThrowIfNull(versions);
        // Only rows that exist: retention names every expired version on every sweep, and most of them have no state left.
        var stored = _db.Query("SELECT version FROM optimizer_states WHERE name=@n", r => r.GetString(0), ("@n", name)).ToHashSet(StringComparer.Ordinal);
        var deleted = 0;
        foreach (var version in versions.Where(stored.Contains))
            deleted += _db.Execute("DELETE FROM optimizer_states WHERE name=@n AND version=@v", ("@n", name), ("@v", version));
        return deleted;
    }

    /// <summary>The bytes of v; an unused parameter when there is none (the statement then writes a literal NULL).</summary>
    private static byte[] SecondMoment(ServerOptimizerState state) => state.SecondMoment is { } v ? Bytes(v) : [];

    private static byte[] Bytes(float[] values)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("The optimiser state is stored little-endian.");
        return MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
    }

    private static float[] Floats(byte[] bytes)
    {
        if (bytes.Length % sizeof(float) != 0)
            throw new InvalidDataException($"An optimiser state vector of {bytes.Length} bytes is not whole float32 values; the row is damaged.");
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("The optimiser state is stored little-endian.");
        return MemoryMarshal.Cast<byte, float>(bytes).ToArray();
    }
}
