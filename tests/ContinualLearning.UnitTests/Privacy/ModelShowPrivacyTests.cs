using ContinualLearning.Aggregator.Privacy;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.UnitTests.Cli;

namespace ContinualLearning.UnitTests.Privacy;

/// <summary>`cl model show` prints a version's privacy cost (and says when it has none).</summary>
[Collection(ConsoleCaptureCollection.Name)]
public sealed class ModelShowPrivacyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-model-show-dp-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Model_show_prints_the_round_and_model_epsilon()
    {
        var metrics = PrivacyRecord.Add("""{"deltas":40}""", new RoundPrivacy(1.2, 0.8, 40, 0.024), null, 1e-5);
        using (var registry = ModelRegistry.Open(_dir))
        {
            registry.AddVersion(new ModelVersionRecord { Name = "sea", Version = "1.0.0", Status = VersionStatus.Released, ArtifactSha256 = new string('a', 64), MetricsJson = "{}" });
            registry.AddVersion(new ModelVersionRecord { Name = "sea", Version = "1.1.0", Parent = "1.0.0", Status = VersionStatus.Candidate, ArtifactSha256 = new string('b', 64), MetricsJson = metrics });
        }

        var shown = await ShowAsync("1.1.0");
        var plain = await ShowAsync("1.0.0");

        Assert.Contains("σ 1.2, clip 0.8, 40 devices, noise std 0.024", shown, StringComparison.Ordinal);
        Assert.Matches(@"ε model [0-9.]+ at δ 1E-5", shown);
        Assert.Contains("no differential privacy", plain, StringComparison.Ordinal);
    }

    private Task<string> ShowAsync(string version) => ModelCommandCapture.RunAsync("model", "show", "--registry", _dir, version);
}
