using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Cli.Demo;

/// <summary>What each device's served model is worth on its own data, per device and per group.</summary>
internal sealed record ServedResult(double Accuracy, double Baseline, IReadOnlyList<GroupSummary> Groups, IReadOnlyList<DeviceSummary> Devices);

/// <summary>
/// Scores, for every device, the release it serves at the end of the run on that device's own held-out block (its own
/// final concept), beside the no-update base model on the same block. With one global model this is the global
/// release on each device's concept; with <c>--clusters</c> it is each device's cluster model, which is what a device
/// in a fleet split into clusters gets. The global held-out figure (every device's concept pooled, one model) cannot
/// show that, since no single model is what the devices of a clustered fleet serve.
/// </summary>
internal static class DemoServedEvaluation
{
    /// <param name="options">The run's options.</param>
    /// <param name="state">The devices' final state (what each serves).</param>
    /// <param name="weightsOf">A model version's head weights (the caller's cache: the versions table loaded them already).</param>
    /// <param name="engine">Builds the heads to score.</param>
    /// <param name="world">Each device's held-out block.</param>
    public static ServedResult Run(DemoOptions options, DemoState state, Func<string, string, IReadOnlyList<NamedTensor>> weightsOf, ITrainingEngine engine, IDeviceHeldOut world)
    {
        ArgumentNullException.ThrowIfNull(weightsOf);
        var baseWeights = weightsOf(options.ModelName, DemoScenario.BaseVersion);
        var devices = new DeviceSummary[state.Devices.Count];
        var baseline = new double[devices.Length];
        for (var i = 0; i < devices.Length; i++)
        {
            var d = state.Devices[i];
            var model = d.ModelName ?? options.ModelName;
            devices[i] = d.Summary() with
            {
                ServedModel = model,
                Group = world.GroupOf(d.Shard),
                HeldOutAccuracy = world.DeviceAccuracy(engine, weightsOf(model, d.ModelVersion), i),
            };
            baseline[i] = world.DeviceAccuracy(engine, baseWeights, i);
        }
        var groups = devices.Select((d, i) => (d, i)).GroupBy(x => x.d.Group!, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new GroupSummary(g.Key, g.Count(), g.Average(x => x.d.HeldOutAccuracy!.Value), g.Average(x => baseline[x.i])))
            .ToArray();
        return new ServedResult(devices.Average(d => d.HeldOutAccuracy!.Value), baseline.Average(), groups, devices);
    }

    /// <summary>Every cluster the aggregator made, with its current release and the devices serving a release of it at the end.</summary>
    public static IReadOnlyList<ClusterSummary> Clusters(DemoAggregator aggregator, ServedResult? served) =>
        aggregator.Clusters.Select(c =>
        {
            var by = served?.Devices.Where(d => d.ServedModel == c.ModelName).ToArray() ?? [];
            return new ClusterSummary(
                c.Cluster,
                c.ModelName,
                c.Live,
                aggregator.CurrentRelease(c.ModelName),
                c.ParentModel is null ? null : $"{c.ParentModel} {c.ParentVersion}",
                c.CreatorDevice,
                [.. by.Select(d => d.Device)],
                by.Length == 0 ? null : by.Average(d => d.HeldOutAccuracy!.Value));
        }).ToArray();
}
