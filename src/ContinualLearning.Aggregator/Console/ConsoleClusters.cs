using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Text;
using Microsoft.AspNetCore.Http;

namespace ContinualLearning.Aggregator.Console;

/// <summary>
/// The clusters of concept-aware aggregation as the console shows them and the models it may read or act on
/// (docs/console.md, "Clusters"): the configured model (cluster 0) and, with clustering on, its cluster models — any of
/// them to read, a live one to roll back or publish. Everything is read from the registry (clusters, the stored
/// clustering state with its assignments) and the device directory at each request, so every instance agrees.
/// </summary>
internal sealed class ConsoleClusters(ModelRegistry registry, AggregatorOptions options, DeviceDirectory directory)
{
    public bool Enabled => options.Aggregation.Clustering.Enabled;

    /// <summary>The number of live clusters (cluster 0 included); null with clustering off.</summary>
    public int? LiveCount() => Enabled ? registry.Clusters.Live(options.ModelName).Count : null;

    /// <summary>Device → live cluster for every device the clustering placed outside cluster 0; null with clustering off.</summary>
    public IReadOnlyDictionary<string, int>? Assignments()
    {
        if (!Enabled) return null;
        var live = registry.Clusters.Live(options.ModelName).Select(c => c.Cluster).ToHashSet();
        return Assignments(live);
    }

    /// <summary>Every cluster the configured model ever had, by id, with its versions and devices; an empty list with clustering off.</summary>
    public ClusterList List()
    {
        if (!Enabled) return new ClusterList(options.ModelName, false, 0, []);
        var clusters = registry.Clusters.List(options.ModelName);
        var assignments = Assignments(clusters.Where(c => c.Live).Select(c => c.Cluster).ToHashSet());
        // Devices the clustering never placed (no loss report yet) are in cluster 0, as the directory says.
        var devices = new Dictionary<string, (int Cluster, bool Online)>(StringComparer.Ordinal);
        foreach (var d in directory.All) devices[d.DeviceId] = (0, d.State == DeviceState.Online);
        foreach (var (id, cluster) in assignments) devices[id] = (cluster, devices.TryGetValue(id, out var known) && known.Online);
        var views = clusters.Select(c =>
        {
            var members = devices.Values.Where(d => d.Cluster == c.Cluster && c.Live).ToArray();
            var release = registry.Latest(c.ModelName, VersionStatus.Released);
            var newest = registry.Newest(c.ModelName);
            return new ClusterView(c.Cluster, c.ModelName, c.Live ? "live" : "retired", c.MergedInto, c.Retired, release?.Version, newest?.Version, newest?.Status,
                c.ParentModel, c.ParentVersion, c.CreatorDevice, c.CreatedRound, c.Created, members.Length, members.Count(m => m.Online));
        }).ToArray();
        return new ClusterList(options.ModelName, true, views.Count(v => v.State == "live"), views);
    }

    /// <summary>
    /// The model a read names (<c>?model=</c>): the configured one when absent; else the configured model or one of its
    /// cluster models, live or retired. Anything else is a 400 naming the parameter.
    /// </summary>
    public string ReadableModel(string? model)
    {
        if (string.IsNullOrEmpty(model) || model == options.ModelName) return options.ModelName;
        if (Enabled && registry.Clusters.ByModel(model) is { } c && c.BaseModel == options.ModelName) return c.ModelName;
        throw new BadParameterException("model", $"model '{DisplayText.Truncate(model, 64)}' is not {options.ModelName} or one of its cluster models; {Known()}.");
    }

    /// <summary>
    /// The model an action names: the configured one when absent; else the configured model or one of its live
    /// cluster models. Another model or a retired cluster is refused with a 400 naming the value.
    /// </summary>
    public string ActionModel(string? model)
    {
        if (string.IsNullOrEmpty(model) || model == options.ModelName) return options.ModelName;
        var shown = DisplayText.Truncate(model, 64);
        if (!Enabled || registry.Clusters.ByModel(model) is not { } c || c.BaseModel != options.ModelName)
            throw new ActionRefusedException(StatusCodes.Status400BadRequest, "refused", $"model '{shown}' is not {options.ModelName} or one of its cluster models; {Known()}");
        if (!c.Live)
            throw new ActionRefusedException(StatusCodes.Status400BadRequest, "refused",
                $"model '{shown}' is retired cluster {c.Cluster}{(c.MergedInto is { } into ? $" (merged into cluster {into})" : "")}: no device is sent its releases; act on a live cluster model ({Known()})");
        return c.ModelName;
    }

    private IReadOnlyDictionary<string, int> Assignments(HashSet<int> live) =>
        registry.Clusters.GetState(options.ModelName)?.State.Routed(live.Contains) ?? new Dictionary<string, int>();

    private string Known() => Enabled
        ? "live models: " + string.Join(", ", registry.Clusters.Live(options.ModelName).Select(c => c.ModelName).DefaultIfEmpty(options.ModelName))
        : $"clustering is off, so only {options.ModelName}";
}
