using System.Security.Cryptography;
using ContinualLearning.Deltas;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.UnitTests.Fleet;

public sealed class ClusterDirectoryTests : IDisposable
{
    private readonly ECDsa _key = ReleaseKeys.Generate();

    public void Dispose() => _key.Dispose();

    private static ClusterDirectory Directory() => new()
    {
        ModelName = "sensor",
        Sequence = 7,
        Round = 12,
        Clusters =
        [
            new ClusterEntry { Cluster = 0, ModelName = "sensor", Version = "1.4.0" },
            new ClusterEntry { Cluster = 2, ModelName = "sensor.c2", Version = "1.0.3" },
        ],
        Assignments = new Dictionary<string, int> { ["dev-b"] = 2, ["dev-a"] = 2 },
        CreatedAt = new DateTimeOffset(2026, 12, 3, 10, 0, 0, TimeSpan.Zero),
    };

    [Fact]
    public void Signed_directory_verifies_after_a_round_trip_through_json()
    {
        var signed = ClusterDirectorySigner.Sign(Directory(), _key);
        var read = FleetJson.ReadClusterDirectory(FleetJson.Serialize(signed));
        Assert.True(ClusterDirectorySigner.Verify(read, _key).Ok);
        Assert.Equal(2, read.Assignments["dev-a"]);
    }

    [Fact]
    public void Assignment_order_does_not_change_the_signed_bytes()
    {
        var a = Directory();
        var b = a with { Assignments = new Dictionary<string, int> { ["dev-a"] = 2, ["dev-b"] = 2 } };
        Assert.Equal(ClusterDirectorySigner.CanonicalBytes(a), ClusterDirectorySigner.CanonicalBytes(b));
    }

    [Fact]
    public void Attack_moving_a_device_to_another_cluster_fails_verification()
    {
        var signed = ClusterDirectorySigner.Sign(Directory(), _key);
        var forged = signed with { Assignments = new Dictionary<string, int> { ["dev-a"] = 2, ["dev-b"] = 2, ["victim"] = 2 } };
        var result = ClusterDirectorySigner.Verify(forged, _key);
        Assert.False(result.Ok);
        Assert.Contains("signature does not match", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Attack_with_another_key_or_no_signature_fails()
    {
        using var other = ReleaseKeys.Generate();
        Assert.False(ClusterDirectorySigner.Verify(ClusterDirectorySigner.Sign(Directory(), other), _key).Ok);
        Assert.Contains("unsigned", ClusterDirectorySigner.Verify(Directory(), _key).Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("missing-zero")]
    [InlineData("bad-name")]
    [InlineData("unsorted")]
    [InlineData("dangling-assignment")]
    [InlineData("bad-version")]
    public void Malformed_directory_is_refused_with_the_field_named(string defect)
    {
        var d = Directory();
        d = defect switch
        {
            "missing-zero" => d with { Clusters = [d.Clusters[1]] },
            "bad-name" => d with { Clusters = [d.Clusters[0], d.Clusters[1] with { ModelName = "other" }] },
            "unsorted" => d with { Clusters = [d.Clusters[0], d.Clusters[1], d.Clusters[1]] },
            "dangling-assignment" => d with { Assignments = new Dictionary<string, int> { ["dev-a"] = 5 } },
            _ => d with { Clusters = [d.Clusters[0], d.Clusters[1] with { Version = "latest" }] },
        };
        var result = ClusterDirectorySigner.Verify(ClusterDirectorySigner.Sign(d, _key), _key);
        Assert.False(result.Ok);
        Assert.Contains("sensor", result.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"v":1,"modelName":"sensor","sequence":1,"round":1,"clusters":[null],"assignments":{}}""")]
    [InlineData("""{"v":1,"modelName":"sensor","sequence":1,"round":1,"clusters":[{"cluster":0,"modelName":"sensor","version":"1.0.0"},null],"assignments":{}}""")]
    [InlineData("""{"v":1,"modelName":"sensor","sequence":1,"round":1,"clusters":[{"cluster":0,"modelName":"sensor","version":"1.0.0"},{"cluster":123456,"modelName":"x","version":"1.0.0"}],"assignments":{}}""")]
    [InlineData("""{"v":1,"modelName":"","sequence":1,"round":1,"clusters":[{"cluster":0,"modelName":"","version":"1.0.0"}],"assignments":{}}""")]
    public void Hostile_directories_from_the_wire_are_refused_without_throwing(string json)
    {
        var directory = FleetJson.ReadClusterDirectory(System.Text.Encoding.UTF8.GetBytes(json));
        Assert.False(ClusterDirectorySigner.CheckStructure(directory).Ok);
        Assert.False(ClusterDirectorySigner.Verify(directory with { Signature = "AAAA" }, _key).Ok);
    }

    [Fact]
    public void Cluster_topic_parses_back()
    {
        var topic = FleetTopics.Clusters("f1", "sensor");
        Assert.Equal("cl/f1/model/sensor/clusters", topic);
        Assert.Equal(new FleetTopic(FleetTopicKind.ModelClusters, "f1", ModelName: "sensor"), FleetTopics.TryParse(topic));
    }

    [Theory]
    [InlineData("sensor", 0, "sensor")]
    [InlineData("sensor", 3, "sensor.c3")]
    [InlineData("a.c1", 12, "a.c1.c12")]
    public void Cluster_names_round_trip(string baseModel, int cluster, string name)
    {
        Assert.Equal(name, ClusterNames.ModelName(baseModel, cluster));
        Assert.Equal((baseModel, cluster), ClusterNames.Parse(name));
    }

    [Theory]
    [InlineData("sensor.c")]
    [InlineData("sensor.c0")]
    [InlineData("sensor.c01")]
    [InlineData("sensor.cx")]
    [InlineData(".c1")]
    public void Names_without_a_valid_suffix_are_cluster_zero_of_themselves(string name)
    {
        Assert.Equal((name, 0), ClusterNames.Parse(name));
        Assert.False(ClusterNames.IsClusterModel(name));
    }

    [Fact]
    public void Cluster_report_round_trips_through_delta_metrics()
    {
        var report = new ClusterReport(2, new Dictionary<int, double> { [0] = 0.61, [2] = 0.22 }, 0.2, 96);
        var metrics = new Dictionary<string, double> { ["accuracy"] = 0.9 };
        report.WriteTo(metrics);
        var read = ClusterReport.TryRead(metrics, out var error);
        Assert.Null(error);
        Assert.NotNull(read);
        Assert.Equal(2, read.Cluster);
        Assert.Equal(96, read.Samples);
        Assert.Equal(0.2, read.LocalLoss);
        Assert.Equal([0, 2], read.Losses.Keys);
        Assert.Equal(0.22, read.Losses[2]);
        // A report without standard errors (an older device) reads as before.
        Assert.Null(read.StandardErrors);
    }

    [Fact]
    public void Cluster_report_standard_errors_round_trip_through_delta_metrics()
    {
        var report = new ClusterReport(2, new Dictionary<int, double> { [0] = 0.61, [2] = 0.22 }, 0.2, 96, new Dictionary<int, double> { [0] = 0.04, [2] = 0 });
        var metrics = new Dictionary<string, double>();
        report.WriteTo(metrics);
        Assert.Equal(0.04, metrics["cluster.se.0"]);
        var read = ClusterReport.TryRead(metrics, out var error, out var ignored);
        Assert.Null(error);
        Assert.Null(ignored);
        Assert.Equal([0, 2], read!.StandardErrors!.Keys);
        Assert.Equal(0.04, read.StandardErrors[0]);
        Assert.Equal(0, read.StandardErrors[2]);
    }

    [Theory]
    [InlineData("cluster.se.1", double.NaN)]
    [InlineData("cluster.se.1", double.PositiveInfinity)]
    [InlineData("cluster.se.1", -0.01)]
    [InlineData("cluster.se.x", 0.02)]
    [InlineData("cluster.se.99999", 0.02)]
    public void A_malformed_standard_error_is_left_out_with_the_reason_and_the_report_still_reads(string key, double value)
    {
        var metrics = new Dictionary<string, double> { ["cluster.id"] = 1, ["cluster.samples"] = 10, ["cluster.loss.1"] = 0.4, ["cluster.loss.0"] = 0.5, ["cluster.se.0"] = 0.03 };
        metrics[key] = value;
        var read = ClusterReport.TryRead(metrics, out var error, out var ignored);
        Assert.Null(error);
        Assert.Contains(key, ignored, StringComparison.Ordinal);
        Assert.NotNull(read);
        Assert.Equal(0.4, read.Losses[1]);
        Assert.Equal(0.03, Assert.Single(read.StandardErrors!).Value);
        // The two-argument reader gives the same report.
        Assert.Equal(read.Losses, ClusterReport.TryRead(metrics, out error)!.Losses);
        Assert.Null(error);
    }

    [Fact]
    public void Delta_without_a_report_reads_as_none()
    {
        Assert.Null(ClusterReport.TryRead(new Dictionary<string, double> { ["loss"] = 0.3 }, out var error));
        Assert.Null(error);
    }

    [Theory]
    [InlineData("cluster.id", 1.5, "cluster.id")]
    [InlineData("cluster.id", -1, "cluster.id")]
    [InlineData("cluster.samples", -3, "cluster.samples")]
    [InlineData("cluster.loss.1", double.NaN, "cluster.loss.1")]
    [InlineData("cluster.loss.x", 0.3, "cluster.loss.x")]
    [InlineData("cluster.localLoss", -0.1, "cluster.localLoss")]
    public void Malformed_report_names_the_key(string key, double value, string named)
    {
        var metrics = new Dictionary<string, double> { ["cluster.id"] = 1, ["cluster.samples"] = 10, ["cluster.loss.1"] = 0.4 };
        metrics[key] = value;
        Assert.Null(ClusterReport.TryRead(metrics, out var error));
        Assert.Contains(named, error, StringComparison.Ordinal);
    }
}
