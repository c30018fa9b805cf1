using System.Text.Json;
using System.Text.Json.Serialization;
using ContinualLearning.Aggregator.Clustering;

namespace ContinualLearning.Aggregator.Registry;

/// <summary>
/// One cluster of a base model as the registry keeps it (table <c>clusters</c>). Cluster 0 is the base model itself;
/// a cluster created by the clustering names the model and version its first version was built on
/// (<see cref="ParentModel"/>, <see cref="ParentVersion"/>: its cross-model lineage) and the device whose delta made it.
/// </summary>
public sealed record ClusterRecord(
    string BaseModel, int Cluster, string ModelName, string? ParentModel, string? ParentVersion, string? CreatorDevice, int CreatedRound, DateTimeOffset Created)
{
    /// <summary>When it left the directory (merged or evicted at the cap); null while live.</summary>
    public DateTimeOffset? Retired { get; init; }

    /// <summary>The cluster it was merged into, or null (live, or evicted).</summary>
    public int? MergedInto { get; init; }

    public bool Live => Retired is null;
}

/// <summary>
/// The clustering's memory for one base model (table <c>clustering_state</c>): the algorithm's state, the round counter,
/// the last directory sequence and content published, and per device the last delta whose loss report was counted.
/// </summary>
public sealed record ClusteringRecord(string BaseModel, ClusteringState State, int Round, long DirectorySequence, string? DirectoryJson, IReadOnlyDictionary<string, string> CountedReports);

/// <summary>
/// The clusters of concept-aware aggregation and the clustering state per base model (docs/federated.md,
/// "Concept-aware aggregation", "In the product"). Written by the clustering step in one transaction under the base
/// model's lock, so every aggregator on the registry sees the same clusters and assignments and a restart resumes them.
/// </summary>
public sealed class ClusterStore
{
    private const string Columns = "base_model, cluster, model_name, parent_model, parent_version, creator_device, created_round, created_utc, retired_utc, merged_into";
    private readonly RegistryDatabase _db;

    internal ClusterStore(RegistryDatabase db) => _db = db;

    /// <summary>Records a cluster; throws when the base model already has one with that id or the model name is taken.</summary>
    public void Add(ClusterRecord cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        _db.Execute(
            $"INSERT INTO clusters({Columns}) VALUES(@b, @c, @m, @pm, @pv, @d, @r, @t, NULL, NULL)",
            ("@b", cluster.BaseModel), ("@c", cluster.Cluster), ("@m", cluster.ModelName), ("@pm", cluster.ParentModel), ("@pv", cluster.ParentVersion),
            ("@d", cluster.CreatorDevice), ("@r", cluster.CreatedRound), ("@t", cluster.Created));
    }

    /// <summary>Every cluster the base model ever had, live or retired, by id.</summary>
    public IReadOnlyList<ClusterRecord> List(string baseModel) => Select("WHERE base_model=@b ORDER BY cluster", ("@b", baseModel));

    /// <summary>The live clusters of the base model, by id.</summary>
    public IReadOnlyList<ClusterRecord> Live(string baseModel) => [.. List(baseModel).Where(c => c.Live)];

    /// <summary>The cluster whose registry model is <paramref name="modelName"/>, or null when it is no cluster's (clustering never ran for it).</summary>
    public ClusterRecord? ByModel(string modelName) => Select("WHERE model_name=@m", ("@m", modelName)).FirstOrDefault();

    /// <summary>Marks a live cluster retired at <paramref name="at"/>, merged into <paramref name="mergedInto"/> (null: evicted); false when it was not live.</summary>
    public bool Retire(string baseModel, int cluster, DateTimeOffset at, int? mergedInto) => _db.Execute(
        // A literal NULL: a NULL parameter is typed as text, which PostgreSQL will not put in an integer column.
        $"UPDATE clusters SET retired_utc=@t, merged_into={(mergedInto is null ? "NULL" : "@i")} WHERE base_model=@b AND cluster=@c AND retired_utc IS NULL",
        ("@t", at), ("@i", mergedInto ?? 0), ("@b", baseModel), ("@c", cluster)) == 1;

    /// <summary>The clustering state of the base model, or null before its first clustering step.</summary>
    public ClusteringRecord? GetState(string baseModel) => _db.Query(
        "SELECT state, round, directory_sequence, directory_json, counted_reports FROM clustering_state WHERE base_model=@b",
        r => new ClusteringRecord(baseModel,
            JsonSerializer.Deserialize(r.GetString(0), ClusterJson.Default.ClusteringState) ?? throw new InvalidDataException($"The clustering state of {baseModel} is empty; the row is damaged."),
            RegistryDatabase.ReadInt(r, 1), RegistryDatabase.ReadLong(r, 2), r.IsDBNull(3) ? null : r.GetString(3),
            JsonSerializer.Deserialize(r.GetString(4), ClusterJson.Default.DictionaryStringString) ?? []),
        ("@b", baseModel)).FirstOrDefault();

    /// <summary>Stores (replaces) the clustering state of the base model; meant for the clustering step's transaction.</summary>
    public void PutState(ClusteringRecord record, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(record);
        var counted = new Dictionary<string, string>(record.CountedReports, StringComparer.Ordinal);
        var directory = record.DirectoryJson is null ? "NULL" : "@j";
        _db.Execute(
            $"""
            INSERT INTO clustering_state(base_model, state, round, directory_sequence, directory_json, counted_reports, updated_utc)
                VALUES(@b, @s, @r, @q, {directory}, @c, @t)
            ON CONFLICT(base_model) DO UPDATE SET state = excluded.state, round = excluded.round, directory_sequence = excluded.directory_sequence,
                directory_json = excluded.directory_json, counted_reports = excluded.counted_reports, updated_utc = excluded.updated_utc
            """,
            ("@b", record.BaseModel), ("@s", JsonSerializer.Serialize(record.State, ClusterJson.Default.ClusteringState)), ("@r", record.Round),
            ("@q", record.DirectorySequence), ("@j", record.DirectoryJson ?? ""), ("@c", JsonSerializer.Serialize(counted, ClusterJson.Default.DictionaryStringString)), ("@t", at));
    }

    private List<ClusterRecord> Select(string where, params (string, object?)[] parameters) => _db.Query(
        $"SELECT {Columns} FROM clusters {where}",
        r => new ClusterRecord(r.GetString(0), RegistryDatabase.ReadInt(r, 1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4),
            r.IsDBNull(5) ? null : r.GetString(5), RegistryDatabase.ReadInt(r, 6), RegistryDatabase.ReadTime(r, 7))
        {
            Retired = RegistryDatabase.ReadTimeOrNull(r, 8),
            MergedInto = r.IsDBNull(9) ? null : RegistryDatabase.ReadInt(r, 9),
        },
        parameters);
}

[JsonSerializable(typeof(ClusteringState))]
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class ClusterJson : JsonSerializerContext;
