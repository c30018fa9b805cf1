using ContinualLearning.Aggregator.Holdout;
using ContinualLearning.Onnx;
using ContinualLearning.UnitTests.Cli;

namespace ContinualLearning.UnitTests.Aggregator.Holdout;

/// <summary>`cl aggregator run` with a holdout that does not fit the served model stops at start with one line and exit 1.</summary>
[Collection(ConsoleCaptureCollection.Name)]
public sealed class HoldoutStartupTests : IDisposable
{
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForUnitTests();

    public void Dispose() => _kit.Dispose();

    [Fact]
    public async Task An_embeddings_holdout_for_a_feature_model_stops_the_aggregator_at_start()
    {
        var csv = Path.Combine(_kit.Root, "holdout.csv");
        using (var writer = new StreamWriter(csv))
        {
            var audio = SpeechBundleBuilder.Manifest(new SpeechBundleOptions { Name = "kw", LabelNames = ["0", "1"] });
            HoldoutEmbeddingsCsv.WriteHeader(writer, audio, "class");
            HoldoutEmbeddingsCsv.WriteRow(writer, new float[192], "0");
        }
        var config = Path.Combine(_kit.Root, "aggregator.json");
        File.WriteAllText(config, $$"""
            { "fleet": "plant1", "modelName": "{{AggregatorTestKit.Model}}", "registryPath": "registry", "privateKeyPath": "release.key",
              "brokerPort": 1, "holdout": { "csvPath": "holdout.csv" } }
            """);

        var (exit, stderr) = await AggregatorConfigurationTests.RunAsync("aggregator", "run", "--config", config);

        Assert.Equal(1, exit);
        Assert.Contains($"error: holdout:csvPath {csv} holds embeddings (made for kw 1.0.0), but model sea 1.0.0 takes 3 features (normalised, no pipeline)", stderr, StringComparison.Ordinal);
    }
}
