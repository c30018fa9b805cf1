namespace ContinualLearning.Aggregator.Registry;

/// <summary>A canary's cohort accuracies at one moment: the mean over reporting devices of each device's mean, and the reports behind them.</summary>
public sealed record RolloutPoint(DateTimeOffset At, double? CanaryAccuracy, double? ControlAccuracy, int CanaryReports, int ControlReports);

/// <summary>
/// Points of the canary-vs-control chart (table <c>rollout_points</c>), sampled while a canary runs: its reports are
/// dropped when it is decided, so these rows are what remains of its course. Cut by age.
/// </summary>
public sealed class RolloutPointLog
{
    private readonly RegistryDatabase _db;

    internal RolloutPointLog(RegistryDatabase db) => _db = db;

    /// <summary>Adds a point; false when the canary already has one at that instant (another instance sampled it).</summary>
    public bool Add(string name, string version, RolloutPoint point)
    {
        ArgumentNullException.ThrowIfNull(point);
        // The casts type a NULL accuracy for PostgreSQL, which otherwise takes the untyped parameter as text.
        return _db.Execute(
            """
            INSERT INTO rollout_points(name, version, at_utc, canary_accuracy, control_accuracy, canary_reports, control_reports)
            VALUES(@n, @v, @a, CAST(@ca AS DOUBLE PRECISION), CAST(@co AS DOUBLE PRECISION), @cr, @or)
            ON CONFLICT(name, version, at_utc) DO NOTHING
            """,
            ("@n", name), ("@v", version), ("@a", point.At), ("@ca", point.CanaryAccuracy), ("@co", point.ControlAccuracy),
            ("@cr", point.CanaryReports), ("@or", point.ControlReports)) == 1;
    }

    /// <summary>The points of one canary, oldest first.</summary>
    public IReadOnlyList<RolloutPoint> List(string name, string version) => _db.Query(
        "SELECT at_utc, canary_accuracy, control_accuracy, canary_reports, control_reports FROM rollout_points WHERE name=@n AND version=@v ORDER BY at_utc",
        r => new RolloutPoint(RegistryDatabase.ReadTime(r, 0), r.IsDBNull(1) ? null : r.GetDouble(1), r.IsDBNull(2) ? null : r.GetDouble(2),
            RegistryDatabase.ReadInt(r, 3), RegistryDatabase.ReadInt(r, 4)),
        ("@n", name), ("@v", version));

    /// <summary>Deletes points older than <paramref name="before"/>; returns how many.</summary>
    public int Prune(DateTimeOffset before) => _db.Execute("DELETE FROM rollout_points WHERE at_utc < @b", ("@b", before));
}
