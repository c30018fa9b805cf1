using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Clustering;
using ContinualLearning.Aggregator.Configuration;
using ContinualLearning.Fleet.Configuration;

namespace ContinualLearning.UnitTests.Aggregator.Clustering;

/// <summary><c>aggregation:clustering:*</c> is read with the other aggregation keys and every rule names its key.</summary>
public sealed class ClusteringConfigurationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-clustering-config-").FullName;
    private readonly string _key;

    public ClusteringConfigurationTests()
    {
        _key = Path.Combine(_dir, "release.key");
        File.WriteAllText(_key, "placeholder");
    }

    [Fact]
    public void Off_by_default_with_the_algorithms_defaults()
    {
        var o = Read("");
        Assert.False(o.Aggregation.Clustering.Enabled);
        Assert.Equal(new ClusteringOptions(), o.Aggregation.Clustering.Thresholds);
    }

    [Fact]
    public void Reads_every_key()
    {
        var o = Read("""
            "aggregation": { "clustering": { "enabled": true, "maxClusters": 4, "driftMargin": 0.2, "localMargin": 0.05, "localConfidence": 1.5, "switchMargin": 0.01,
              "mergeDistance": 0.03, "graceRounds": 2, "creationsPerRound": 2, "minSamples": 16, "referenceRate": 0.5 } }
            """);
        Assert.True(o.Aggregation.Clustering.Enabled);
        Assert.Equal(new ClusteringOptions
        {
            MaxClusters = 4, DriftMargin = 0.2, LocalMargin = 0.05, LocalConfidence = 1.5, SwitchMargin = 0.01, MergeDistance = 0.03, GraceRounds = 2,
            CreationsPerRound = 2, MinSamples = 16, ReferenceRate = 0.5,
        }, o.Aggregation.Clustering.Thresholds);
        Assert.True(o.Aggregation.Clustering.ProductThresholds.KeepInitialCluster);
    }

    [Theory]
    [InlineData("\"maxClusters\": 0", "aggregation:clustering:maxClusters", "must be in [1, 9999]")]
    [InlineData("\"driftMargin\": -0.1", "aggregation:clustering:driftMargin", "must be a finite number ≥ 0 (nats of cross-entropy)")]
    [InlineData("\"localMargin\": -1", "aggregation:clustering:localMargin", "must be a finite number ≥ 0 (nats of cross-entropy)")]
    [InlineData("\"localConfidence\": -0.5", "aggregation:clustering:localConfidence", "must be a finite number ≥ 0 (standard errors of the local advantage; 0 ignores them)")]
    [InlineData("\"switchMargin\": -1", "aggregation:clustering:switchMargin", "must be a finite number ≥ 0 (nats of cross-entropy)")]
    [InlineData("\"mergeDistance\": -1", "aggregation:clustering:mergeDistance", "must be a finite number ≥ 0 (nats of cross-entropy)")]
    [InlineData("\"graceRounds\": -1", "aggregation:clustering:graceRounds", "must be ≥ 0")]
    [InlineData("\"creationsPerRound\": 0", "aggregation:clustering:creationsPerRound", "must be ≥ 1")]
    [InlineData("\"minSamples\": 0", "aggregation:clustering:minSamples", "must be ≥ 1")]
    [InlineData("\"referenceRate\": 0", "aggregation:clustering:referenceRate", "must be in (0, 1]")]
    public void Every_threshold_rule_names_its_key(string setting, string key, string problem)
    {
        var ex = Assert.Throws<ConfigurationException>(() => Read($$"""
            "aggregation": { "clustering": { "enabled": true, {{setting}} } }
            """));
        var error = Assert.Single(ex.Errors);
        Assert.Equal((key, problem), (error.Key, error.Problem));
        Assert.False(string.IsNullOrWhiteSpace(error.Fix));
    }

    [Fact]
    public void An_unreadable_value_names_its_key()
    {
        var ex = Assert.Throws<ConfigurationException>(() => Read("\"aggregation\": { \"clustering\": { \"enabled\": \"sometimes\" } }"));
        Assert.Equal("aggregation:clustering:enabled", Assert.Single(ex.Errors).Key);
    }

    [Fact]
    public void A_cluster_model_name_is_refused_as_the_base_model_when_clustering_is_on()
    {
        var on = new AggregatorOptions
        {
            Fleet = "plant1", ModelName = "elec2.c3", RegistryPath = _dir, PrivateKeyPath = _key,
            Aggregation = new AggregationOptions { Clustering = new FleetClusteringOptions { Enabled = true } },
        };
        var error = Assert.Single(Assert.Throws<ConfigurationException>(on.Validate).Errors);
        Assert.Equal(("modelName", "elec2.c3"), (error.Key, error.Value));
        Assert.Contains("'elec2'", error.Fix, StringComparison.Ordinal);

        // Off, the name is an ordinary model name, as before.
        (on with { Aggregation = new AggregationOptions() }).Validate();
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private AggregatorOptions Read(string extra)
    {
        var path = Path.Combine(_dir, "aggregator.json");
        File.WriteAllText(path, $$"""{ "fleet": "plant1", "modelName": "elec2", "registryPath": "reg", "privateKeyPath": "release.key"{{(extra.Length > 0 ? ", " + extra : "")}} }""");
        return AggregatorOptionsReader.Read(AggregatorOptionsReader.Build(path, environmentPrefix: null));
    }
}
