using ContinualLearning.Aggregator.Aggregation;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Strategies;

namespace ContinualLearning.Aggregator.Clustering;

/// <summary>The first version of a created cluster model, built but not stored yet.</summary>
internal sealed record ClusterFirstVersion(ModelVersionRecord Record, byte[] Container, string ParentModel, string ParentVersion, bool WithDelta);

/// <summary>
/// Builds the first version of a new cluster model: its parent cluster's current release plus its creator's delta,
/// i.e. the creator's own trained model (<see cref="ClusterModels"/> does the same on flat vectors). The delta goes
/// through the ordinary round (<see cref="AggregationRound"/>: label alignment, staleness and norm checks) as a round of
/// one device with plain addition; when the round cannot use it (its base was rolled back or is too stale), the new
/// cluster starts from the parent release alone, as <see cref="ClusterModels.Apply"/> does without a delta.
/// </summary>
internal static class ClusterBirth
{
    /// <summary>The version every cluster model's line starts at.</summary>
    public const string FirstVersion = "1.0.0";

    public static ClusterFirstVersion Build(ModelRegistry registry, AggregatorOptions options, string parentModel, string model, PendingDelta creator, DateTimeOffset now)
    {
        var released = registry.Latest(parentModel, VersionStatus.Released)
            ?? throw new InvalidOperationException($"Cluster model {parentModel} has no released version to create {model} from.");
        var parent = RegistryModels.Load(registry, released);
        var layout = OutputLayout.Of(parent.Bundle.Manifest);
        var baseRecord = registry.GetVersion(parentModel, creator.BaseVersion);
        var buffered = new BufferedDelta(creator, registry.ReleasesSince(parentModel, creator.BaseVersion), baseRecord?.Status == VersionStatus.RolledBack,
            new ReleaseLayouts(registry, parentModel).Of(creator.BaseVersion)?.Labels);
        // One device's trained model, unscaled: no strategy, staleness discount, optimiser or noise between it and the cluster.
        var single = options.Aggregation with
        {
            Strategy = StrategyKind.FedAvg, MinDevices = 1, NewClassMinDevices = 1, ServerLearningRate = 1, StalenessAlpha = 0,
            ServerOptimizer = new Optimizers.ServerOptimizerOptions(), Privacy = new Privacy.CentralPrivacyOptions(),
        };
        var round = AggregationRound.Run(parent.Bundle.HeadWeights, layout, [buffered], single, options.Validation);
        var withDelta = round.Weights is not null;
        var weights = round.Weights ?? parent.Bundle.HeadWeights;
        // The bundle names its own model: a device installs a release only when the manifest names the release's model.
        var manifest = NewClassDecision.Manifest(parent.Bundle.Manifest, round.Layout ?? layout) with { Name = model };
        var container = RegistryModels.BuildChild(parent.Bundle, manifest, FirstVersion, weights, registry.Directory, now.UtcDateTime, sameModel: false);
        var record = new ModelVersionRecord
        {
            Name = model,
            Version = FirstVersion,
            // The parent is another model's version: the clusters table holds it (ClusterStore), so Lineage stays within one model.
            Parent = null,
            Created = now,
            Status = VersionStatus.Released,
            ArtifactSha256 = "",
            DeltaIds = withDelta ? [creator.DeltaId] : [],
            DeviceIds = withDelta ? [creator.DeviceId] : [],
            SampleCounts = withDelta ? [creator.SampleCount] : [],
            // The parent's central-DP lineage goes on in the cluster; the creator's delta joins it without noise.
            MetricsJson = Privacy.PrivacyRecord.Continue("{}", released.MetricsJson, options.Aggregation.Privacy.Delta, addsUpdateWithoutNoise: withDelta),
        };
        return new ClusterFirstVersion(record, container, parentModel, released.Version, withDelta);
    }
}
