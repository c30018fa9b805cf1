using ContinualLearning.Fleet.Messages;

namespace ContinualLearning.Aggregator.Console;

/// <summary>
/// The device table: the directory's retained status of each device joined with its last telemetry, searched, sorted
/// and paged on the server. A query copies the directory once (10,000 rows are a few milliseconds to sort), so the
/// page never needs the whole fleet. With clustering on, each row carries the device's assigned cluster, read from
/// the registry once per query (<paramref name="assignments"/>: null with clustering off).
/// </summary>
internal sealed class FleetView(DeviceDirectory directory, DeviceTelemetry telemetry, Func<IReadOnlyDictionary<string, int>?> assignments)
{
    public DevicePage Query(DeviceQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        IEnumerable<DeviceRow> rows = Rows(withClusters: true);
        if (query.Search is { } search)
            rows = rows.Where(r => Contains(r.DeviceId, search) || Contains(r.ModelVersion, search) || Contains(r.BaseVersion, search) || Contains(r.Cohort, search));
        var sorted = Sort(rows, query.Sort, query.Descending).ToList();
        var page = sorted.Skip(query.Offset).Take(query.Limit).ToArray();
        return new DevicePage(sorted.Count, query.Offset, query.Limit, page);
    }

    public DeviceDetail? Get(string deviceId)
    {
        if (directory.Get(deviceId) is not { } device) return null;
        var readings = telemetry.Get(deviceId);
        var (accuracy, alarms) = readings?.Recent() ?? ([], []);
        return DeviceDetail.Of(Row(device, readings, assignments()), accuracy.Select(a => new TimedAccuracy(a.T, a.Accuracy)).ToArray(),
            alarms.Select(a => new DriftPoint(a.T, a.DeviceId, a.Detector)).ToArray());
    }

    /// <summary>Counts by state, version and cohort, and how many devices report drift.</summary>
    public DeviceCounts Counts()
    {
        var rows = Rows(withClusters: false);
        static IReadOnlyDictionary<string, int> By(IEnumerable<string> keys) =>
            keys.GroupBy(k => k, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var online = rows.Count(r => r.State == "online");
        return new DeviceCounts(rows.Length, online, rows.Length - online, rows.Count(r => r.Drift == "drift"),
            By(rows.Select(r => r.ModelVersion ?? "none")), By(rows.Select(r => r.Cohort ?? "none")), By(rows.Select(r => r.State)));
    }

    /// <summary>Every device's row; <paramref name="withClusters"/> false leaves out the clusters (a registry read the counts do not need).</summary>
    private DeviceRow[] Rows(bool withClusters)
    {
        var clusters = withClusters ? assignments() : null;
        return directory.All.Select(d => Row(d, telemetry.Get(d.DeviceId), clusters)).ToArray();
    }

    private static DeviceRow Row(KnownDevice d, DeviceReadings? readings, IReadOnlyDictionary<string, int>? clusters)
    {
        var t = readings?.Last;
        var lastSeen = readings is not null && readings.LastAt > d.LastSeen ? readings.LastAt : d.LastSeen;
        return new DeviceRow(d.DeviceId, d.State == DeviceState.Online ? "online" : "offline", d.ModelVersion, d.BaseVersion, d.Cohort, lastSeen,
            t?.Accuracy, t?.AccuracyWindow, t is null ? null : DriftText(t.Drift), t?.DriftDetector, d.Engine, d.Paused, d.DeltasSent,
            clusters is null ? null : clusters.GetValueOrDefault(d.DeviceId), clusters is null || t is null ? null : Clustering.ClusterFleet.ServedCluster(t));
    }

    private static string DriftText(DriftState drift) => drift switch
    {
        DriftState.Drift => "drift",
        DriftState.Warning => "warning",
        _ => "stable",
    };

    private static bool Contains(string? text, string search) => text is not null && text.Contains(search, StringComparison.OrdinalIgnoreCase);

    private static IEnumerable<DeviceRow> Sort(IEnumerable<DeviceRow> rows, DeviceSort sort, bool descending)
    {
        // The device id breaks ties, so paging through equal keys neither repeats nor skips a row.
        IOrderedEnumerable<DeviceRow> ordered = sort switch
        {
            DeviceSort.State => By(rows, r => r.State, descending),
            DeviceSort.Version => By(rows, r => r.ModelVersion ?? "", descending),
            DeviceSort.Cohort => By(rows, r => r.Cohort ?? "", descending),
            DeviceSort.LastSeen => descending ? rows.OrderByDescending(r => r.LastSeenUtc) : rows.OrderBy(r => r.LastSeenUtc),
            // Devices without an accuracy go last either way.
            DeviceSort.Accuracy => descending ? rows.OrderByDescending(r => r.Accuracy ?? double.NegativeInfinity) : rows.OrderBy(r => r.Accuracy ?? double.PositiveInfinity),
            _ => By(rows, r => r.DeviceId, descending),
        };
        return ordered.ThenBy(r => r.DeviceId, StringComparer.Ordinal);
    }

    private static IOrderedEnumerable<DeviceRow> By(IEnumerable<DeviceRow> rows, Func<DeviceRow, string> key, bool descending) =>
        descending ? rows.OrderByDescending(key, StringComparer.Ordinal) : rows.OrderBy(key, StringComparer.Ordinal);
}
