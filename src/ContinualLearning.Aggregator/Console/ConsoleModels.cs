namespace ContinualLearning.Aggregator.Console;

// The console API's JSON shapes (camelCase on the wire; docs/console.md, "Endpoints").

/// <summary>One row of the device table. With clustering on, <c>Cluster</c> is the cluster the registry assigns the device to (0 when it placed it nowhere) and <c>ServedCluster</c> the one its last telemetry says it serves; both null with clustering off.</summary>
internal sealed record DeviceRow(
    string DeviceId, string State, string? ModelVersion, string? BaseVersion, string? Cohort, DateTimeOffset LastSeenUtc,
    double? Accuracy, int? AccuracyWindow, string? Drift, string? DriftDetector, string? Engine, bool Paused, long DeltasSent, int? Cluster, int? ServedCluster);

/// <summary>A page of the device table.</summary>
internal sealed record DevicePage(int Total, int Offset, int Limit, IReadOnlyList<DeviceRow> Items);

/// <summary>One device: its row's fields and its recent history.</summary>
internal sealed record DeviceDetail(
    string DeviceId, string State, string? ModelVersion, string? BaseVersion, string? Cohort, DateTimeOffset LastSeenUtc,
    double? Accuracy, int? AccuracyWindow, string? Drift, string? DriftDetector, string? Engine, bool Paused, long DeltasSent, int? Cluster, int? ServedCluster,
    IReadOnlyList<TimedAccuracy> RecentAccuracy, IReadOnlyList<DriftPoint> RecentDrift)
{
    public static DeviceDetail Of(DeviceRow r, IReadOnlyList<TimedAccuracy> accuracy, IReadOnlyList<DriftPoint> drift) => new(
        r.DeviceId, r.State, r.ModelVersion, r.BaseVersion, r.Cohort, r.LastSeenUtc, r.Accuracy, r.AccuracyWindow, r.Drift, r.DriftDetector, r.Engine, r.Paused, r.DeltasSent, r.Cluster,
        r.ServedCluster, accuracy, drift);
}

internal sealed record TimedAccuracy(DateTimeOffset T, double Accuracy);

internal sealed record DriftPoint(DateTimeOffset T, string DeviceId, string? Detector);

internal sealed record FleetAccuracyPoint(DateTimeOffset T, double Accuracy, int Devices);

internal sealed record DeviceCounts(
    int Total, int Online, int Offline, int DriftPending, IReadOnlyDictionary<string, int> ByVersion, IReadOnlyDictionary<string, int> ByCohort,
    IReadOnlyDictionary<string, int> ByState);

internal sealed record LatestVersion(string Version, string Status, DateTimeOffset CreatedUtc);

internal sealed record CanarySummary(
    string Version, string ControlVersion, string? Verdict, string? Reason, double? CanaryAccuracy, double? ControlAccuracy,
    double? CanaryDevices, double? ControlDevices, DateTimeOffset? DecidedUtc);

internal sealed record AggregatorSummary(bool Healthy, string Reason, bool BrokerConnected, string RegistryBackend);

internal sealed record Overview(
    string Fleet, string Model, DeviceCounts Devices, LatestVersion? Latest, LatestVersion? Release, CanarySummary? LastCanary, int Rejections24h,
    AggregatorSummary Aggregator, int? Clusters);

internal sealed record VersionSummary(
    string Version, string? Parent, string Status, DateTimeOffset CreatedUtc, int DeltaCount, int DeviceCount, System.Text.Json.JsonElement Metrics);

internal sealed record LineageNode(string Version, string? Parent, string Status);

internal sealed record DecisionEntry(string Kind, string Reason, System.Text.Json.JsonElement Details, DateTimeOffset AtUtc);

internal sealed record DeltaEntry(string DeltaId, string DeviceId);

internal sealed record VersionDetail(
    string Version, string? Parent, string Status, DateTimeOffset CreatedUtc, IReadOnlyList<LineageNode> Lineage, System.Text.Json.JsonElement Metrics,
    IReadOnlyList<DecisionEntry> Decisions, IReadOnlyList<string> Devices, IReadOnlyList<DeltaEntry> Deltas);

internal sealed record RolloutPointView(DateTimeOffset T, double? CanaryAccuracy, double? ControlAccuracy, int CanaryReports, int ControlReports);

internal sealed record RolloutView(
    string Version, string ControlVersion, string State, DateTimeOffset StartedUtc, DateTimeOffset? DecidedUtc, string? Verdict, string? Reason,
    IReadOnlyList<RolloutPointView> Points);

internal sealed record DeviceRejections(string DeviceId, int Count);

internal sealed record RejectionView(DateTimeOffset AtUtc, string? DeviceId, string Reason, string Detail);

internal sealed record RejectionSummary(IReadOnlyDictionary<string, int> ByReason, IReadOnlyList<DeviceRejections> ByDevice, IReadOnlyList<RejectionView> Recent);

internal sealed record AuditView(DateTimeOffset AtUtc, string Operator, string Action, string Target, string Outcome, string Detail);

internal sealed record RollbackResult(string Model, string Version, IReadOnlyList<string> RolledBack);

internal sealed record PublishResult(string Model, string Version, string PreviousStatus);

internal sealed record CommandRequest(string? Kind, IReadOnlyDictionary<string, string>? Args);

internal sealed record CommandAccepted(string CommandId);

/// <summary>One cluster of <c>GET /api/v1/clusters</c>.</summary>
internal sealed record ClusterView(
    int Cluster, string Model, string State, int? MergedInto, DateTimeOffset? RetiredUtc, string? Release, string? Newest, string? NewestStatus,
    string? ParentModel, string? ParentVersion, string? CreatorDevice, int CreatedRound, DateTimeOffset CreatedUtc, int Devices, int Online);

/// <summary>The answer of <c>GET /api/v1/clusters</c>: the configured model, whether clustering is on, how many clusters are live, and every cluster by id.</summary>
internal sealed record ClusterList(string Model, bool Clustering, int Live, IReadOnlyList<ClusterView> Clusters);
