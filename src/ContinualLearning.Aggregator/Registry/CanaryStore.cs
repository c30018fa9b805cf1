using System.Text.Json;

namespace ContinualLearning.Aggregator.Registry;

/// <summary>A canary as the registry keeps it: the candidate, the release the other devices run, when it started and its cohort.</summary>
public sealed record CanaryRecord(string Name, string Version, string ControlVersion, DateTimeOffset Started, IReadOnlyList<string> Devices);

/// <summary>One device's counted reports during a canary: its cohort ("canary" or "control"), their sum and number.</summary>
public sealed record CanaryDeviceReports(string DeviceId, string Cohort, double AccuracySum, int Reports);

/// <summary>
/// The running canaries and the telemetry counted for them (tables <c>canaries</c>, <c>canary_reports</c>,
/// <c>canary_ignored</c>), so that a canary survives the instance that started it and any instance can decide it.
/// Rows are bounded by devices: one per reporting device and canary, removed when the canary is decided.
/// </summary>
public sealed class CanaryStore
{
    private readonly RegistryDatabase _db;

    internal CanaryStore(RegistryDatabase db) => _db = db;

    /// <summary>Records a canary; meant for the transaction that moves the version to canary. False when it was already recorded.</summary>
    public bool Start(CanaryRecord canary)
    {
        ArgumentNullException.ThrowIfNull(canary);
        return _db.Execute(
            "INSERT INTO canaries(name, version, control_version, started_utc, devices) VALUES(@n,@v,@c,@s,@d) ON CONFLICT(name, version) DO NOTHING",
            ("@n", canary.Name), ("@v", canary.Version), ("@c", canary.ControlVersion), ("@s", canary.Started),
            ("@d", JsonSerializer.Serialize(canary.Devices.ToArray(), RegistryJson.Default.StringArray))) == 1;
    }

    /// <summary>The canary of <paramref name="version"/>, decided or not; null when none was recorded.</summary>
    public CanaryRecord? Get(string name, string version) => _db.Query(
        "SELECT name, version, control_version, started_utc, devices FROM canaries WHERE name=@n AND version=@v",
        r => new CanaryRecord(r.GetString(0), r.GetString(1), r.GetString(2), RegistryDatabase.ReadTime(r, 3),
            JsonSerializer.Deserialize(r.GetString(4), RegistryJson.Default.StringArray) ?? []),
        ("@n", name), ("@v", version)).FirstOrDefault();

    /// <summary>The canaries of a model, decided or not, newest first, at most <paramref name="limit"/>; with the time each was decided.</summary>
    public IReadOnlyList<(CanaryRecord Canary, DateTimeOffset? Decided)> List(string name, int limit) => _db.Query(
        "SELECT name, version, control_version, started_utc, devices, decided_utc FROM canaries WHERE name=@n ORDER BY started_utc DESC LIMIT @l",
        r => (new CanaryRecord(r.GetString(0), r.GetString(1), r.GetString(2), RegistryDatabase.ReadTime(r, 3),
            JsonSerializer.Deserialize(r.GetString(4), RegistryJson.Default.StringArray) ?? []), RegistryDatabase.ReadTimeOrNull(r, 5)),
        ("@n", name), ("@l", limit));

    /// <summary>
    /// Counts one report of <paramref name="deviceId"/> under <paramref name="cohort"/>, unless the device already has a
    /// counted report made at or after <paramref name="madeAt"/> (its own timestamp), or the version is no longer on
    /// canary. True when counted: a QoS 1 redelivery, or the same report arriving at another instance, returns false.
    /// </summary>
    public bool AddReport(string name, string version, string deviceId, string cohort, double accuracy, DateTimeOffset madeAt) => _db.Execute(
        """
        INSERT INTO canary_reports(name, version, device_id, cohort, accuracy_sum, reports, last_report_utc)
            SELECT @n, @v, @d, @c, @a, 1, @t WHERE EXISTS (SELECT 1 FROM versions WHERE name=@n AND version=@v AND status=@s)
        ON CONFLICT(name, version, device_id) DO UPDATE
            SET accuracy_sum = canary_reports.accuracy_sum + excluded.accuracy_sum, reports = canary_reports.reports + 1, last_report_utc = excluded.last_report_utc
            WHERE canary_reports.last_report_utc < excluded.last_report_utc
        """,
        ("@n", name), ("@v", version), ("@s", VersionStatus.Canary), ("@d", deviceId), ("@c", cohort), ("@a", accuracy), ("@t", madeAt)) == 1;

    /// <summary>Every device's counted reports for the canary of <paramref name="version"/>.</summary>
    public IReadOnlyList<CanaryDeviceReports> Reports(string name, string version) => _db.Query(
        "SELECT device_id, cohort, accuracy_sum, reports FROM canary_reports WHERE name=@n AND version=@v ORDER BY device_id",
        r => new CanaryDeviceReports(r.GetString(0), r.GetString(1), r.GetDouble(2), RegistryDatabase.ReadInt(r, 3)),
        ("@n", name), ("@v", version));

    /// <summary>Adds <paramref name="count"/> reports <paramref name="instanceId"/> did not count to its tally for the canary.</summary>
    public void AddIgnored(string name, string version, string instanceId, int count) => _db.Execute(
        """
        INSERT INTO canary_ignored(name, version, instance_id, ignored) VALUES(@n, @v, @i, @k)
        ON CONFLICT(name, version, instance_id) DO UPDATE SET ignored = canary_ignored.ignored + excluded.ignored
        """,
        ("@n", name), ("@v", version), ("@i", instanceId), ("@k", count));

    /// <summary>
    /// Reports not counted for the canary: the largest tally of any instance. Every instance receives all telemetry, so
    /// the largest is the count of the instance that watched longest, and a sum would count one report once per instance.
    /// </summary>
    public int Ignored(string name, string version) =>
        _db.Count("SELECT COALESCE(MAX(ignored), 0) FROM canary_ignored WHERE name=@n AND version=@v", ("@n", name), ("@v", version));

    /// <summary>
    /// Marks the canary decided and drops the reports of every canary of the model that no longer runs (the decision
    /// keeps their summary), including one stopped by <c>cl model rollback</c>; meant for the transaction that records
    /// the verdict, after the version's status changed.
    /// </summary>
    public void Close(string name, string version, DateTimeOffset at)
    {
        _db.Execute("UPDATE canaries SET decided_utc=@t WHERE name=@n AND version=@v AND decided_utc IS NULL", ("@t", at), ("@n", name), ("@v", version));
        const string Running = "SELECT version FROM versions WHERE name=@n AND status=@s";
        _db.Execute($"DELETE FROM canary_reports WHERE name=@n AND version NOT IN ({Running})", ("@n", name), ("@s", VersionStatus.Canary));
        _db.Execute($"DELETE FROM canary_ignored WHERE name=@n AND version NOT IN ({Running})", ("@n", name), ("@s", VersionStatus.Canary));
    }
}
