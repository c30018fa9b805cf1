using ContinualLearning.Aggregator.Registry;
using ContinualLearning.UnitTests.Cli;

namespace ContinualLearning.UnitTests.Aggregator.Clustering;

/// <summary>`cl model show` and `cl model lineage` name a version's cluster and follow a cluster's first version into the model it was created from.</summary>
[Collection(ConsoleCaptureCollection.Name)]
public sealed class ClusterLineageCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-cluster-lineage-").FullName;

    public ClusterLineageCliTests()
    {
        using var registry = ModelRegistry.Open(_dir);
        var at = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
        registry.AddVersion(new ModelVersionRecord { Name = "sea", Version = "1.0.0", Status = VersionStatus.Released, ArtifactSha256 = new string('a', 64) });
        registry.AddVersion(new ModelVersionRecord { Name = "sea", Version = "1.1.0", Parent = "1.0.0", Status = VersionStatus.Released, ArtifactSha256 = new string('b', 64) });
        registry.AddVersion(new ModelVersionRecord { Name = "sea.c1", Version = "1.0.0", Status = VersionStatus.Released, ArtifactSha256 = new string('c', 64), DeviceIds = ["b1"], DeltaIds = ["d"], SampleCounts = [100] });
        registry.AddVersion(new ModelVersionRecord { Name = "sea.c1", Version = "1.1.0", Parent = "1.0.0", Status = VersionStatus.Candidate, ArtifactSha256 = new string('d', 64) });
        registry.Clusters.Add(new ClusterRecord("sea", 0, "sea", null, null, null, 0, at));
        registry.Clusters.Add(new ClusterRecord("sea", 1, "sea.c1", "sea", "1.1.0", "b1", 4, at));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Lineage_of_a_cluster_version_continues_into_the_model_it_was_created_from()
    {
        var text = await RunAsync("model", "lineage", "--registry", _dir, "--model", "sea.c1", "1.1.0");
        Assert.Contains("1.1.0 [candidate] ← 1.0.0", text, StringComparison.Ordinal);
        Assert.Contains("1.0.0 [released] ← sea 1.1.0 (cluster created)", text, StringComparison.Ordinal);
        Assert.Contains("sea 1.1.0 [released] ← 1.0.0", text, StringComparison.Ordinal);
        Assert.Contains("sea 1.0.0 [released] ← (seed)", text, StringComparison.Ordinal);
        Assert.Contains("cluster 1 of sea, created in clustering round 4 from sea 1.1.0 with the delta of b1", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_names_the_cluster_and_for_its_first_version_the_parent_model_and_version()
    {
        var first = await RunAsync("model", "show", "--registry", _dir, "--model", "sea.c1", "1.0.0");
        Assert.Contains("cluster 1 of sea, created in clustering round 4 from sea 1.1.0 with the delta of b1 (this is its first version)", first, StringComparison.Ordinal);
        var base0 = await RunAsync("model", "show", "--registry", _dir, "--model", "sea", "1.1.0");
        Assert.Contains("cluster 0 of sea (the base model)", base0, StringComparison.Ordinal);
        var json = await RunAsync("model", "show", "--registry", _dir, "--model", "sea.c1", "1.0.0", "--json");
        Assert.Contains("\"parentModel\": \"sea\"", json, StringComparison.Ordinal);
    }

    private static Task<string> RunAsync(params string[] args) => ModelCommandCapture.RunAsync(args);
}
