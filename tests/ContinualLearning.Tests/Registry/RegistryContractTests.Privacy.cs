using ContinualLearning.Aggregator.Privacy;
using ContinualLearning.Aggregator.Registry;

namespace ContinualLearning.Tests.Registry;

/// <summary>The privacy record of versions (in their metrics JSON) is stored and read back by both backends, and composes along the lineage.</summary>
public abstract partial class RegistryContractTests
{
    [Fact]
    public async Task A_versions_privacy_record_round_trips_and_composes_from_the_stored_parent()
    {
        var registry = await OpenAsync();
        registry.AddVersion(Version("sea", "1.0.0"));
        var first = PrivacyRecord.Add("""{"deltas":30}""", new RoundPrivacy(1.0, 0.5, 30, 1.0 * 0.5 / 30), registry.GetVersion("sea", "1.0.0")!.MetricsJson, 1e-5);
        registry.AddVersion(Version("sea", "1.1.0", VersionStatus.Candidate, "1.0.0") with { MetricsJson = first });
        var storedFirst = registry.GetVersion("sea", "1.1.0")!.MetricsJson;
        var second = PrivacyRecord.Add("""{"deltas":28}""", new RoundPrivacy(1.0, 0.5, 28, 1.0 * 0.5 / 28), storedFirst, 1e-5);
        registry.AddVersion(Version("sea", "1.2.0", VersionStatus.Candidate, "1.1.0") with { MetricsJson = second });

        var read = registry.GetVersion("sea", "1.2.0")!;

        AssertSameJson(first, storedFirst);
        AssertSameJson(second, read.MetricsJson);
        // Two rounds at σ 1 compose to one Gaussian at σ 1/√2.
        Assert.Matches(@"^σ 1, clip 0\.5, 28 devices, noise std 0\.0179, ε this round [0-9.]+; ε model [0-9.]+ at δ 1E-5$", PrivacyRecord.Describe(read.MetricsJson));
        var model = System.Text.Json.JsonDocument.Parse(read.MetricsJson).RootElement.GetProperty(PrivacyRecord.ModelEpsilon).GetDouble();
        Assert.Equal(ContinualLearning.Privacy.RdpAccountant.Epsilon(1.0, 1 / Math.Sqrt(2), 1, 1e-5), model, 9);
    }
}
