using System.Data;
using System.Data.Common;
using System.Globalization;

namespace ContinualLearning.Aggregator.Registry;

/// <summary>
/// The registry's database, whichever engine holds it: one connection (serialised by a lock), transactions that nest,
/// the per-model lock, and the command helpers the table classes share. The table classes keep one set of SQL that
/// SQLite and PostgreSQL both accept (named <c>@parameters</c>, <c>ON CONFLICT</c>, <c>RETURNING</c>); what differs
/// between the engines lives in the two subclasses: opening, how a transaction starts and locks, how a timestamp is
/// stored, and the migrations (<see cref="RegistryMigrations"/>).
/// </summary>
/// <remarks>
/// One connection per registry object, not a pool: an aggregator does one thing at a time against its registry (admit a
/// batch, run a round), and the SQLite side must serialise writers anyway. Timestamps go in as <see cref="DateTimeOffset"/>
/// parameter values and come out through <see cref="ReadTime"/>; aggregates through <see cref="ReadInt"/> (PostgreSQL's
/// COUNT is a bigint).
/// </remarks>
internal abstract class RegistryDatabase : IDisposable
{
    private readonly Lock _lock = new();
    private int _transactionDepth;

    /// <summary>"sqlite" or "postgres".</summary>
    public abstract string Backend { get; }

    /// <summary>Opens (creating if needed) a SQLite registry file and brings its schema up to date.</summary>
    public static RegistryDatabase Open(string path) => SqliteRegistryDatabase.Open(path);

    /// <summary>
    /// Runs <paramref name="body"/> in one transaction (committed when it returns, rolled back when it throws; the
    /// original error is never replaced). Nested calls join the outer transaction. The body must be synchronous.
    /// </summary>
    public T InTransaction<T>(Func<T> body) => Transact(null, body);

    /// <summary>
    /// <see cref="InTransaction{T}"/> that first takes <paramref name="name"/>'s model lock, held until the transaction
    /// ends: across every process on the database, one body at a time per model. Nested inside a transaction that did not
    /// take it, the lock is taken there and then.
    /// </summary>
    public T WithModelLock<T>(string name, Func<T> body) => Transact("model:" + name, body);

    /// <summary>
    /// <see cref="InTransaction{T}"/> under <paramref name="name"/>'s admission lock: admissions of one model run one at a
    /// time across hosts, so the pending bounds hold in total and two batches never wait on each other's rows (a
    /// deadlock). A separate key from the model lock, so admits do not wait for a round.
    /// </summary>
    public T WithAdmissionLock<T>(string name, Func<T> body) => Transact("admit:" + name, body);

    private T Transact<T>(string? lockKey, Func<T> body)
    {
        lock (_lock)
        {
            if (_transactionDepth > 0)
            {
                if (lockKey is not null) LockKey(lockKey);
                _transactionDepth++;
                try
                {
                    return body();
                }
                finally
                {
                    _transactionDepth--;
                }
            }
            Begin();
            _transactionDepth = 1;
            try
            {
                if (lockKey is not null) LockKey(lockKey);
                var result = body();
                Execute("COMMIT");
                return result;
            }
            catch (Exception ex)
            {
                RollBack(ex);
                throw;
            }
            finally
            {
                _transactionDepth = 0;
            }
        }
    }

    /// <summary>Starts a write transaction on <see cref="Connection"/>.</summary>
    protected abstract void Begin();

    /// <summary>Takes the named lock inside the current transaction, until it ends (re-entrant).</summary>
    protected abstract void LockKey(string key);

    /// <summary>Inside a transaction, makes processes starting together apply the migrations one after another.</summary>
    internal abstract void LockMigrations();

    /// <summary>Rolls back after <paramref name="failure"/>, never replacing it (a failed rollback travels in its Data).</summary>
    protected virtual void RollBack(Exception failure)
    {
        try
        {
            Execute("ROLLBACK");
        }
        catch (Exception rollback) when (rollback is DbException or InvalidOperationException)
        {
            // A connection that broke mid-transaction cannot roll back; the server aborts the transaction itself.
            failure.Data["rollbackError"] = rollback.Message;
        }
    }

    /// <summary>The open connection; a subclass may reopen a broken one here (only ever called under the lock).</summary>
    protected abstract DbConnection Connection { get; }

    /// <summary>How a timestamp parameter is stored by this engine.</summary>
    protected abstract object ToDatabase(DateTimeOffset value);

    /// <summary>True while a transaction is open on this object.</summary>
    protected bool InOpenTransaction => _transactionDepth > 0;

    // Commands are created and disposed under the lock: a connection is not thread-safe.
    public int Execute(string sql, params (string Name, object? Value)[] parameters)
    {
        lock (_lock)
        {
            using var cmd = Command(sql, parameters);
            return cmd.ExecuteNonQuery();
        }
    }

    public object? Scalar(string sql, params (string Name, object? Value)[] parameters)
    {
        lock (_lock)
        {
            using var cmd = Command(sql, parameters);
            var value = cmd.ExecuteScalar();
            return value is DBNull ? null : value;
        }
    }

    public int Count(string sql, params (string Name, object? Value)[] parameters) =>
        Convert.ToInt32(Scalar(sql, parameters), CultureInfo.InvariantCulture);

    /// <summary>Every row of <paramref name="sql"/>, each mapped by <paramref name="read"/> while the reader is on it.</summary>
    public List<T> Query<T>(string sql, Func<DbDataReader, T> read, params (string Name, object? Value)[] parameters)
    {
        var list = new List<T>();
        lock (_lock)
        {
            using var cmd = Command(sql, parameters);
            using var r = cmd.ExecuteReader();
            while (r.Read()) list.Add(read(r));
        }
        return list;
    }

    /// <summary>
    /// Runs the one-row statement <paramref name="sql"/> once per parameter set in <paramref name="rows"/> (every set names
    /// the same parameters in the same order) and returns the rows each affected, in order. How is the engine's: the base
    /// prepares the statement once and steps it per set (SQLite, in process: the cheapest form there, where one statement
    /// of many rows pays for binding thousands of named parameters); PostgreSQL sends every set in one round trip.
    /// </summary>
    public int[] ExecuteEach(string sql, IReadOnlyList<(string Name, object? Value)[]> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0) return [];
        lock (_lock) return ExecuteEachCore(sql, rows);
    }

    /// <summary>See <see cref="ExecuteEach"/>: one prepared command, its parameter values replaced per set.</summary>
    protected virtual int[] ExecuteEachCore(string sql, IReadOnlyList<(string Name, object? Value)[]> rows)
    {
        var affected = new int[rows.Count];
        using var cmd = Command(sql, rows[0]);
        cmd.Prepare();
        for (var i = 0; i < rows.Count; i++)
        {
            if (i > 0)
                for (var k = 0; k < rows[i].Length; k++) SetValue(cmd.Parameters[k], rows[i][k].Value);
            affected[i] = cmd.ExecuteNonQuery();
        }
        return affected;
    }

    /// <summary>
    /// Every row of <paramref name="sql"/>, whose condition <c>column = ANY(@list)</c> (with <paramref name="list"/> naming
    /// that parameter) matches any of <paramref name="values"/>. PostgreSQL takes the values as one array parameter (one
    /// round trip, one plan); the base runs the statement prepared once per value with the condition read as
    /// <c>column = @list</c> (SQLite has no arrays, and in process a prepared point look-up per value is the cheap form).
    /// </summary>
    public List<T> QueryAny<T>(string sql, string list, IReadOnlyCollection<string> values, Func<DbDataReader, T> read,
        params (string Name, object? Value)[] parameters)
    {
        RequireAnyCondition(sql, list, values);
        if (values.Count == 0) return [];
        lock (_lock) return QueryAnyCore(sql, list, values, read, parameters);
    }

    /// <summary>See <see cref="QueryAny{T}"/>: the statement once per value, prepared.</summary>
    protected virtual List<T> QueryAnyCore<T>(string sql, string list, IReadOnlyCollection<string> values, Func<DbDataReader, T> read,
        (string Name, object? Value)[] parameters)
    {
        var rows = new List<T>();
        using var cmd = PreparedPerValue(sql, list, parameters, out var slot);
        foreach (var value in values)
        {
            slot.Value = value;
            using var r = cmd.ExecuteReader();
            while (r.Read()) rows.Add(read(r));
        }
        return rows;
    }

    /// <summary>
    /// Runs <paramref name="sql"/>, whose condition <c>column = ANY(@list)</c> names the parameter <paramref name="list"/>,
    /// for all of <paramref name="values"/> and returns the rows affected in total: one statement with an array parameter
    /// on PostgreSQL (a round's thousands of consumed ids are one set-based statement, not thousands of executions), the
    /// statement prepared once and stepped per value on SQLite (as <see cref="QueryAny{T}"/>).
    /// </summary>
    public int ExecuteAny(string sql, string list, IReadOnlyCollection<string> values, params (string Name, object? Value)[] parameters)
    {
        RequireAnyCondition(sql, list, values);
        if (values.Count == 0) return 0;
        lock (_lock) return ExecuteAnyCore(sql, list, values, parameters);
    }

    /// <summary>See <see cref="ExecuteAny"/>: the statement once per value, prepared.</summary>
    protected virtual int ExecuteAnyCore(string sql, string list, IReadOnlyCollection<string> values, (string Name, object? Value)[] parameters)
    {
        var affected = 0;
        using var cmd = PreparedPerValue(sql, list, parameters, out var slot);
        foreach (var value in values)
        {
            slot.Value = value;
            affected += cmd.ExecuteNonQuery();
        }
        return affected;
    }

    private static void RequireAnyCondition(string sql, string list, IReadOnlyCollection<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (!sql.Contains($"= ANY({list})", StringComparison.Ordinal))
            throw new ArgumentException($"The statement has no '= ANY({list})' condition for the list.", nameof(sql));
    }

    /// <summary>The per-value form of an <c>= ANY(@list)</c> statement (<c>= @list</c>), prepared; <paramref name="slot"/> takes each value.</summary>
    private DbCommand PreparedPerValue(string sql, string list, (string Name, object? Value)[] parameters, out DbParameter slot)
    {
        var cmd = Command(sql.Replace($"= ANY({list})", $"= {list}", StringComparison.Ordinal), [.. parameters, (list, "")]);
        cmd.Prepare();
        slot = cmd.Parameters[parameters.Length];
        return cmd;
    }

    /// <summary>A <c>SELECT key, COUNT(*) … GROUP BY key</c> as a dictionary, keys mapped by <paramref name="key"/>.</summary>
    public Dictionary<TKey, int> CountBy<TKey>(string sql, Func<string, TKey> key)
        where TKey : notnull =>
        Query(sql, r => (Key: key(r.GetString(0)), Count: ReadInt(r, 1))).ToDictionary(x => x.Key, x => x.Count);

    public void Dispose()
    {
        lock (_lock) DisposeConnection();
    }

    protected abstract void DisposeConnection();

    /// <summary>A timestamp column: ISO 8601 text on SQLite, <c>timestamptz</c> on PostgreSQL.</summary>
    public static DateTimeOffset ReadTime(DbDataReader reader, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return reader.GetValue(ordinal) switch
        {
            string s => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal),
            DateTime d => new DateTimeOffset(DateTime.SpecifyKind(d, DateTimeKind.Utc)),
            DateTimeOffset o => o.ToUniversalTime(),
            var other => throw new InvalidDataException($"Column {ordinal} holds a {other.GetType().Name}, not a timestamp."),
        };
    }

    /// <summary><see cref="ReadTime"/> for a nullable column.</summary>
    public static DateTimeOffset? ReadTimeOrNull(DbDataReader reader, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return reader.IsDBNull(ordinal) ? null : ReadTime(reader, ordinal);
    }

    /// <summary>An integer column or aggregate, whatever width the engine gives it.</summary>
    public static int ReadInt(DbDataReader reader, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return Convert.ToInt32(reader.GetValue(ordinal), CultureInfo.InvariantCulture);
    }

    /// <summary>A 64-bit integer column or aggregate.</summary>
    public static long ReadLong(DbDataReader reader, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return Convert.ToInt64(reader.GetValue(ordinal), CultureInfo.InvariantCulture);
    }

    /// <summary>A command on <see cref="Connection"/> with <paramref name="parameters"/> bound (only ever called under the lock).</summary>
    protected DbCommand Command(string sql, (string Name, object? Value)[] parameters)
    {
        var cmd = Connection.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (n, v) in parameters)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = n;
            SetValue(p, v);
            cmd.Parameters.Add(p);
        }
        return cmd;
    }

    /// <summary>Sets a parameter's value as this engine stores it.</summary>
    protected void SetValue(DbParameter parameter, object? value)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        switch (value)
        {
            case null:
                // Typed, so PostgreSQL can place a NULL compared or inserted as text (every nullable column is text).
                parameter.DbType = DbType.String;
                parameter.Value = DBNull.Value;
                break;
            case DateTimeOffset t:
                parameter.Value = ToDatabase(t);
                break;
            default:
                parameter.Value = value;
                break;
        }
    }
}
