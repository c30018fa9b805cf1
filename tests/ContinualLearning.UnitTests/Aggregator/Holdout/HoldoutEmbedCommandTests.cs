using System.CommandLine;
using System.Globalization;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Holdout;
using ContinualLearning.Bundle;
using ContinualLearning.Cli.Commands;
using ContinualLearning.Onnx;
using ContinualLearning.Streams;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Aggregator.Holdout;

/// <summary>
/// `cl holdout embed --features` for a feature model with a real ONNX backbone (a frozen 3 → 12 ReLU layer exported by
/// our exporter, run in ONNX Runtime), and the command's refusals for models it cannot embed for.
/// </summary>
public sealed class HoldoutEmbedCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-holdout-embed-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Runs `cl holdout …` in-process with its output captured.</summary>
    internal static (int Exit, string Output, string Error) Cl(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = HoldoutCommand.Build().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    private string Bundle(string name, bool backbone)
    {
        var dir = Path.Combine(_dir, name);
        var features = new[] { new FeatureSpec("f1", 5, 2.9f), new FeatureSpec("f2", 5, 2.9f), new FeatureSpec("f3", 5, 2.9f) };
        var head = new HeadSpec([backbone ? 12 : 3, 8, 2], LossKind.SoftmaxCrossEntropy);
        var manifest = new ModelManifest
        {
            Name = name,
            Version = "1.0.0",
            CreatedUtc = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc),
            InputSchema = new InputSchema(features, backbone ? 12 : null),
            Task = TaskSpec.Classification("0", "1"),
            Head = head,
        };
        string? backbonePath = null;
        if (backbone)
        {
            var spec = new HeadSpec([3, 12, 12], LossKind.MeanSquaredError);
            backbonePath = Path.Combine(_dir, name + "-backbone.onnx");
            OnnxExporter.ExportHead(spec, HeadInitializer.Initialize(spec, seed: 11), backbonePath);
        }
        ModelBundle.Save(dir, manifest, HeadInitializer.Initialize(head, seed: 5), backbonePath);
        return dir;
    }

    [Fact]
    public void A_backbone_model_gets_its_features_embedded_by_its_own_backbone()
    {
        var bundleDir = Bundle("sea-backbone", backbone: true);
        var samples = new SeaGenerator(1, noise: 0.0, seed: 3).Take(20).ToArray();
        var features = Path.Combine(_dir, "features.csv");
        File.WriteAllLines(features, ["f1,f2,f3,class", .. samples.Select(s => string.Join(',', s.Features.Select(v => v.ToString("R", CultureInfo.InvariantCulture))) + "," + s.Label.ToString(CultureInfo.InvariantCulture))]);
        var csv = Path.Combine(_dir, "holdout.csv");

        var (exit, output, error) = Cl("embed", "--bundle", bundleDir, "--features", features, "--out", csv);

        Assert.True(exit == 0, error);
        Assert.Contains("Wrote 20 head inputs of sea-backbone 1.0.0", output, StringComparison.Ordinal);
        var bundle = ModelBundle.Load(bundleDir);
        var set = HoldoutSet.Load(new HoldoutOptions { CsvPath = csv }, bundle.Manifest);
        using var pipeline = InputPipelineFactory.Create(bundle);
        for (var i = 0; i < samples.Length; i++)
        {
            var expected = new float[12];
            pipeline.Embed(samples[i].Features, expected);
            Assert.Equal(expected, set.Samples[i].Features);
            Assert.Equal(samples[i].Label, set.Samples[i].Label);
        }
        // The raw features themselves are what the gate refuses for this model.
        var raw = Assert.Throws<InvalidOperationException>(() => HoldoutSet.Load(new HoldoutOptions { CsvPath = features }, bundle.Manifest));
        Assert.Contains("3 features through backbone.onnx", raw.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Models_it_cannot_embed_for_and_wrong_inputs_are_refused_with_what_to_do()
    {
        var csv = Path.Combine(_dir, "holdout.csv");
        var features = Path.Combine(_dir, "features.csv");
        File.WriteAllText(features, "f1,f2,f3,class\n1,2,3,0\n");

        var plain = Cl("embed", "--bundle", Bundle("sea", backbone: false), "--features", features, "--out", csv);
        Assert.Equal(1, plain.Exit);
        Assert.Contains("takes 3 features (normalised, no pipeline): the gate reads its features CSV", plain.Error, StringComparison.Ordinal);

        var backbone = Bundle("sea-backbone", backbone: true);
        var clips = Cl("embed", "--bundle", backbone, "--clips", _dir, "--out", csv);
        Assert.Equal(1, clips.Exit);
        Assert.Contains("--clips is for audio models; sea-backbone 1.0.0 takes 3 features through backbone.onnx: use --features", clips.Error, StringComparison.Ordinal);

        var both = Cl("embed", "--bundle", backbone, "--clips", _dir, "--features", features, "--out", csv);
        Assert.Equal(2, both.Exit);
        Assert.Contains("give exactly one of --clips (audio models) or --features (backbone models)", both.Error, StringComparison.Ordinal);

        File.WriteAllText(features, "f1,f2,f3,class\n1,2,3,0\n4,5,6,maybe\n");
        var unknown = Cl("embed", "--bundle", backbone, "--features", features, "--out", csv);
        Assert.Equal(1, unknown.Exit);
        Assert.Contains("Labels that are not classes of sea-backbone 1.0.0 (0, 1): 'maybe' (1)", unknown.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(csv));
    }
}
