using System.Globalization;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Holdout;
using ContinualLearning.Bundle;
using ContinualLearning.Onnx;
using ContinualLearning.Pipelines;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Aggregator.Holdout;

/// <summary>
/// The holdout set of a model whose head input comes out of a pipeline: head inputs in a CSV that records the pipeline
/// that made them, refused for another pipeline, another head width, unknown labels, or the wrong kind of model.
/// Manifests only: no speech models needed (the end-to-end run with them is <see cref="AudioHoldoutGateTests"/>).
/// </summary>
public sealed class HoldoutSetTests : IDisposable
{
    private static readonly string Mel = new('a', 64);
    private static readonly string Embedding = new('b', 64);
    private static readonly string Head = new('c', 64);

    private readonly string _dir = Directory.CreateTempSubdirectory("cl-holdout-set-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ModelManifest Audio(PoolMode pool = PoolMode.MeanMax, string mel = "", string[]? labels = null) =>
        SpeechBundleBuilder.Manifest(new SpeechBundleOptions { Name = "kw", LabelNames = labels ?? ["yes", "no"], Pool = pool, CreatedUtc = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc) }) with
        {
            Files = new SortedDictionary<string, string>(StringComparer.Ordinal)
            {
                [SpeechModels.MelSpectrogramFile] = mel.Length > 0 ? mel : Mel,
                [SpeechModels.EmbeddingFile] = Embedding,
                [ModelManifest.HeadFileName] = Head,
            },
        };

    private static ModelManifest Features(int? embedding = null, float std = 2.9f, string backbone = "") => new()
    {
        Name = "sea",
        Version = "1.0.0",
        CreatedUtc = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc),
        InputSchema = new InputSchema([new FeatureSpec("f1", 5, std), new FeatureSpec("f2", 5, 2.9f), new FeatureSpec("f3", 5, 2.9f)], embedding),
        Task = TaskSpec.Classification("0", "1"),
        Head = new HeadSpec([embedding ?? 3, 4, 2], LossKind.SoftmaxCrossEntropy),
        Files = embedding is null
            ? new SortedDictionary<string, string>(StringComparer.Ordinal) { [ModelManifest.HeadFileName] = Head }
            : new SortedDictionary<string, string>(StringComparer.Ordinal) { [ModelManifest.HeadFileName] = Head, [ModelManifest.BackboneFileName] = backbone.Length > 0 ? backbone : Mel },
    };

    private string Write(ModelManifest madeBy, params (float[] X, string Label)[] rows)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".csv");
        using var writer = new StreamWriter(path);
        HoldoutEmbeddingsCsv.WriteHeader(writer, madeBy, "class");
        foreach (var (x, label) in rows) HoldoutEmbeddingsCsv.WriteRow(writer, x, label);
        return path;
    }

    private static float[] Vector(int size, float seed) => Enumerable.Range(0, size).Select(i => seed + i / 7f).ToArray();

    private static HoldoutSet Load(string path, ModelManifest manifest) => HoldoutSet.Load(new HoldoutOptions { CsvPath = path }, manifest);

    [Fact]
    public void The_fingerprint_follows_every_part_of_the_pipeline_and_nothing_else()
    {
        var audio = HoldoutPipeline.Fingerprint(Audio());

        Assert.Matches("^[0-9a-f]{64}$", audio);
        Assert.Equal(audio, HoldoutPipeline.Fingerprint(Audio() with { Version = "1.7.0", ParentVersion = "1.6.0", Files = new SortedDictionary<string, string>(Audio().Files.ToDictionary(), StringComparer.Ordinal) { [ModelManifest.HeadFileName] = Mel } }));
        Assert.Equal(audio, HoldoutPipeline.Fingerprint(Audio(labels: ["yes", "no", "stop"])));
        Assert.NotEqual(audio, HoldoutPipeline.Fingerprint(Audio(mel: new string('d', 64))));
        Assert.NotEqual(audio, HoldoutPipeline.Fingerprint(Audio(PoolMode.Mean)));
        var glue = Audio() with { InputSchema = Audio().InputSchema with { Stages = [.. Audio().InputSchema.Stages.Select(s => s is AffineStageSpec ? new AffineStageSpec(0.1f, 2.5f) : s)] } };
        Assert.NotEqual(audio, HoldoutPipeline.Fingerprint(glue));

        Assert.Null(HoldoutPipeline.Fingerprint(Features()));
        var backbone = HoldoutPipeline.Fingerprint(Features(embedding: 4));
        Assert.NotNull(backbone);
        Assert.NotEqual(backbone, HoldoutPipeline.Fingerprint(Features(embedding: 4, backbone: new string('e', 64))));
        // A backbone reads the normalised features: their statistics are part of its pipeline.
        Assert.NotEqual(backbone, HoldoutPipeline.Fingerprint(Features(embedding: 4, std: 3f)));
    }

    [Fact]
    public void Head_inputs_written_for_a_release_are_read_back_exactly_with_class_indices()
    {
        var manifest = Audio();
        var x = Vector(192, 0.1f);
        var path = Write(manifest, (x, "no"), (Vector(192, -3.3f), "yes"));

        var set = Load(path, manifest);

        Assert.Equal(HoldoutPipeline.Fingerprint(manifest), set.Pipeline);
        Assert.Equal([1, 0], set.Samples.Select(s => s.Label));
        Assert.Equal(x, set.Samples[0].Features);
        var lines = File.ReadAllLines(path);
        Assert.StartsWith($"# cl-holdout-embeddings v1 model=kw version=1.0.0 size=192 pipeline={set.Pipeline}", lines[0], StringComparison.Ordinal);
        Assert.Equal(string.Join(',', Enumerable.Range(0, 192).Select(i => "e" + i.ToString(CultureInfo.InvariantCulture))) + ",class", lines[1]);
        // A later release of the same pipeline (more classes, new head) takes the same set.
        set.CheckFits(Audio(labels: ["yes", "no", "stop"]) with { Version = "1.3.0" });
    }

    [Fact]
    public void Embeddings_of_another_pipeline_are_refused_at_start_and_when_a_release_changes_it()
    {
        var made = Audio(mel: new string('d', 64));
        var path = Write(made, (Vector(192, 0), "yes"));

        var e = Assert.Throws<InvalidOperationException>(() => Load(path, Audio()));
        Assert.Contains($"embedded by pipeline {HoldoutPipeline.Fingerprint(made)}", e.Message, StringComparison.Ordinal);
        Assert.Contains($"embeds with pipeline {HoldoutPipeline.Fingerprint(Audio())}", e.Message, StringComparison.Ordinal);
        Assert.Contains("cl holdout embed --bundle RELEASE-DIR --clips", e.Message, StringComparison.Ordinal);

        var set = Load(path, made);
        var changed = Assert.Throws<InvalidOperationException>(() => set.CheckFits(Audio() with { Version = "1.4.0" }));
        Assert.Contains("kw 1.4.0 embeds with pipeline", changed.Message, StringComparison.Ordinal);
        Assert.Contains("no candidate is gated until the holdout is re-made", changed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Embeddings_of_another_width_are_refused_naming_both_widths()
    {
        var path = Write(Audio(PoolMode.Mean), (Vector(96, 0), "yes"));

        var e = Assert.Throws<InvalidOperationException>(() => Load(path, Audio()));

        Assert.Contains("size=96", e.Message, StringComparison.Ordinal);
        Assert.Contains("the head of model kw 1.0.0 takes 192 inputs", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_header_with_the_wrong_columns_is_refused_with_the_expected_ones()
    {
        var path = Write(Audio(), (Vector(192, 0), "yes"));
        var lines = File.ReadAllLines(path);
        File.WriteAllLines(path, [lines[0], "e0,e1,class", "0.5,0.25,yes"]);

        var e = Assert.Throws<InvalidDataException>(() => Load(path, Audio()));

        Assert.Contains("line 2: the header has 3 columns, but the head of model kw 1.0.0 takes 192 inputs: expected 193 columns: e0 … e191 and the label column 'class'", e.Message, StringComparison.Ordinal);

        File.WriteAllLines(path, [lines[0], lines[1].Replace("class", "label", StringComparison.Ordinal), lines[2]]);
        var label = Assert.Throws<InvalidDataException>(() => Load(path, Audio()));
        Assert.Contains("no label column 'class' (holdout:labelColumn)", label.Message, StringComparison.Ordinal);

        File.WriteAllLines(path, [lines[0], lines[1], lines[2], "1,2,yes"]);
        var row = Assert.Throws<InvalidDataException>(() => Load(path, Audio()));
        Assert.Contains("line 4: 3 fields, expected 193", row.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_label_the_model_lacks_is_refused_naming_it_and_the_classes()
    {
        var path = Write(Audio(labels: ["yes", "no", "zero"]), (Vector(192, 0), "yes"), (Vector(192, 1), "zero"));

        var e = Assert.Throws<InvalidDataException>(() => Load(path, Audio()));

        Assert.Contains("line 4: label 'zero' is not a class of model kw 1.0.0 (yes, no)", e.Message, StringComparison.Ordinal);
        Assert.Contains("--skip-unknown", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_features_csv_for_an_audio_model_and_embeddings_for_a_feature_model_are_refused()
    {
        var features = Path.Combine(_dir, "features.csv");
        File.WriteAllText(features, "f1,f2,f3,class\n1,2,3,0\n");

        var audio = Assert.Throws<InvalidOperationException>(() => Load(features, Audio()));
        Assert.Contains("it is a CSV of raw features, but model kw 1.0.0 takes audio through 5 stages", audio.Message, StringComparison.Ordinal);
        Assert.Contains("cl holdout embed --bundle RELEASE-DIR --clips LABELLED-WAVS", audio.Message, StringComparison.Ordinal);
        var backbone = Assert.Throws<InvalidOperationException>(() => Load(features, Features(embedding: 4)));
        Assert.Contains("3 features through backbone.onnx", backbone.Message, StringComparison.Ordinal);
        Assert.Contains("--features FEATURES.csv", backbone.Message, StringComparison.Ordinal);

        var embeddings = Write(Audio(), (Vector(192, 0), "yes"));
        var plain = Assert.Throws<InvalidOperationException>(() => Load(embeddings, Features()));
        Assert.Contains("holds embeddings (made for kw 1.0.0), but model sea 1.0.0 takes 3 features (normalised, no pipeline)", plain.Message, StringComparison.Ordinal);
        Assert.Contains("feature columns (f1, f2, f3)", plain.Message, StringComparison.Ordinal);

        // A feature model without a pipeline still reads its features CSV, as before.
        Assert.Null(Load(features, Features()).Pipeline);
    }

    [Fact]
    public void A_backbone_model_is_gated_on_head_inputs_fed_to_the_head_as_they_are()
    {
        var manifest = Features(embedding: 4);
        // Head 4 → 4 → 2 with identity-like weights: class 1 wins when input 1 is larger than input 0.
        var weights = new ContinualLearning.Tensors.NamedTensor[]
        {
            new("0.weight", [4, 4], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]),
            new("0.bias", [4], [0, 0, 0, 0]),
            new("2.weight", [2, 4], [1, 0, 0, 0, 0, 1, 0, 0]),
            new("2.bias", [2], [0, 0]),
        };
        var path = Write(manifest, ([5, 1, 0, 0], "0"), ([1, 5, 0, 0], "1"), ([1, 5, 0, 0], "0"));
        var set = Load(path, manifest);

        Assert.Equal(2 / 3.0, HoldoutEvaluator.Accuracy(manifest, weights, set.Samples), 9);
        var wrong = Assert.Throws<ArgumentException>(() => HoldoutEvaluator.Accuracy(manifest, weights, [new([1f, 2f, 3f], 0)]));
        Assert.Contains("has 3 values; the head of model sea 1.0.0 takes 4 inputs", wrong.Message, StringComparison.Ordinal);
    }
}
