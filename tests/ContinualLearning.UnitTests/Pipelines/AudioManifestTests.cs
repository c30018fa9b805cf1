using System.Text;
using System.Text.Json.Nodes;
using ContinualLearning.Bundle;
using ContinualLearning.Onnx;
using ContinualLearning.Pipelines;
using ContinualLearning.Training;
using ContinualLearning.UnitTests.Bundle;

namespace ContinualLearning.UnitTests.Pipelines;

/// <summary>manifest.json for audio models: inputSchema.kind/audio/stages parse, round-trip, and each mistake is named.</summary>
public sealed class AudioManifestTests : IDisposable
{
    private static readonly string Hash = new('a', 64);
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private static ModelManifest AudioManifest(PoolMode pool = PoolMode.MeanMax) => SpeechBundleBuilder.Manifest(new SpeechBundleOptions
    {
        Name = "keywords",
        LabelNames = ["yes", "no"],
        HiddenSizes = [8],
        Pool = pool,
        CreatedUtc = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc),
    }) with
    {
        Files = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["head.safetensors"] = Hash, ["melspectrogram.onnx"] = Hash, ["embedding_model.onnx"] = Hash,
        },
    };

    private static JsonNode AudioJson() => JsonNode.Parse(AudioManifest().ToJsonBytes())!;

    private static BundleException ParseFails(JsonNode node) =>
        Assert.Throws<BundleException>(() => ModelManifest.Parse(Encoding.UTF8.GetBytes(node.ToJsonString())));

    [Fact]
    public void Audio_manifest_round_trips_with_kind_audio_and_stages()
    {
        var manifest = AudioManifest();

        var json = manifest.ToJsonBytes();
        var parsed = ModelManifest.Parse(json);

        Assert.Equal(manifest.CanonicalBytesForSigning(), parsed.CanonicalBytesForSigning());
        Assert.Equal(InputKind.Audio, parsed.InputSchema.Kind);
        Assert.Equal(new AudioInputSpec(16_000, 16_000, 160_000), parsed.InputSchema.Audio);
        Assert.Equal(SpeechModels.Stages(PoolMode.MeanMax), parsed.InputSchema.Stages);
        Assert.Equal(192, parsed.InputSchema.HeadInputSize);
        Assert.Equal(manifest.InputSchema, parsed.InputSchema);
        var text = Encoding.UTF8.GetString(json);
        Assert.Contains("\"kind\": \"audio\"", text, StringComparison.Ordinal);
        Assert.Contains("\"op\": \"window\"", text, StringComparison.Ordinal);
        Assert.Contains("\"mode\": \"meanMax\"", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Feature_manifests_are_written_without_the_audio_fields()
    {
        var json = TestBundles.Manifest().ToJsonBytes();

        // Only the fields a feature manifest always had: its bytes (and signatures) are unchanged.
        Assert.Equal(["features", "embeddingSize"], JsonNode.Parse(json)!["inputSchema"]!.AsObject().Select(p => p.Key));
        Assert.Equal(InputKind.Features, ModelManifest.Parse(json).InputSchema.Kind);
    }

    [Fact]
    public void Explicit_kind_features_parses_as_a_feature_model()
    {
        var node = JsonNode.Parse(TestBundles.Manifest().ToJsonBytes())!;
        node["inputSchema"]!["kind"] = "features";

        var parsed = ModelManifest.Parse(Encoding.UTF8.GetBytes(node.ToJsonString()));

        Assert.Equal(TestBundles.Manifest().InputSchema, parsed.InputSchema);
    }

    public static TheoryData<string, string, string> Mistakes => new()
    {
        { "image", "inputSchema.kind", "not supported by this runtime" },
        { "unknown kind", "inputSchema.kind", "'video' is not one of features, audio, image" },
        { "no audio", "inputSchema.audio", "missing" },
        { "rate", "inputSchema.audio.sampleRate", "500 Hz" },
        { "min", "inputSchema.audio.minSamples", "0 must be ≥ 1" },
        { "max below min", "inputSchema.audio.maxSamples", "between minSamples (16000)" },
        { "max too large", "inputSchema.audio.maxSamples", "4800000" },
        { "no stages", "inputSchema.stages", "missing or empty" },
        { "no onnx stage", "inputSchema.stages", "no 'onnx' stage" },
        { "no embedding size", "inputSchema.embeddingSize", "missing" },
        { "features on audio", "inputSchema.features", "leave features empty" },
        { "stages on features", "inputSchema.stages", "kind is 'features'" },
        { "audio on features", "inputSchema.audio", "kind is 'features'" },
        { "unlisted file", "inputSchema.stages[3].file", "'embedding_model.onnx' is not listed in files" },
        { "path in file", "inputSchema.stages[0].file", "not a plain bundle file name" },
        { "head as stage", "inputSchema.stages[0].file", "head weights" },
        { "window size", "inputSchema.stages[2].size", "0 must be > 0" },
        { "window stride", "inputSchema.stages[2].stride", "-1 must be > 0" },
        { "missing stride", "inputSchema.stages[2].stride", "missing" },
        { "unknown op", "inputSchema.stages[1].op", "'scale' is not one of onnx, affine, window, pool" },
        { "missing op", "inputSchema.stages[1].op", "missing" },
        { "foreign field", "inputSchema.stages[1].size", "not a field of op 'affine'" },
        { "pool mode", "inputSchema.stages[4].mode", "'median' is not one of mean, max, meanMax" },
        { "null stage", "inputSchema.stages[1]", "is null" },
        { "head size", "head.layerSizes[0]", "inputSchema.embeddingSize 192" },
    };

    [Theory]
    [MemberData(nameof(Mistakes))]
    public void Each_mistake_names_its_field_and_value(string mistake, string field, string message)
    {
        var node = AudioJson();
        var schema = node["inputSchema"]!;
        var stages = schema["stages"]!.AsArray();
        switch (mistake)
        {
            case "image": schema["kind"] = "image"; break;
            case "unknown kind": schema["kind"] = "video"; break;
            case "no audio": schema.AsObject().Remove("audio"); break;
            case "rate": schema["audio"]!["sampleRate"] = 500; break;
            case "min": schema["audio"]!["minSamples"] = 0; break;
            case "max below min": schema["audio"]!["maxSamples"] = 100; break;
            case "max too large": schema["audio"]!["maxSamples"] = 5_000_000; break;
            case "no stages": schema["stages"] = new JsonArray(); break;
            case "no onnx stage": schema["stages"] = new JsonArray(new JsonObject { ["op"] = "pool", ["mode"] = "mean" }); break;
            case "no embedding size": schema["embeddingSize"] = null; break;
            case "features on audio": schema["features"] = new JsonArray(new JsonObject { ["name"] = "x", ["mean"] = 0, ["std"] = 1 }); break;
            case "stages on features":
            case "audio on features":
                node = JsonNode.Parse(TestBundles.Manifest().ToJsonBytes())!;
                if (mistake == "stages on features") node["inputSchema"]!["stages"] = JsonNode.Parse("""[{"op":"affine","scale":1,"offset":0}]""");
                else node["inputSchema"]!["audio"] = JsonNode.Parse("""{"sampleRate":16000,"minSamples":1,"maxSamples":2}""");
                break;
            case "unlisted file": node["files"]!.AsObject().Remove("embedding_model.onnx"); break;
            case "path in file": stages[0]!["file"] = "../melspectrogram.onnx"; break;
            case "head as stage": stages[0]!["file"] = "head.safetensors"; break;
            case "window size": stages[2]!["size"] = 0; break;
            case "window stride": stages[2]!["stride"] = -1; break;
            case "missing stride": stages[2]!.AsObject().Remove("stride"); break;
            case "unknown op": stages[1]!["op"] = "scale"; break;
            case "missing op": stages[1]!.AsObject().Remove("op"); break;
            case "foreign field": stages[1]!["size"] = 3; break;
            case "pool mode": stages[4]!["mode"] = "median"; break;
            case "null stage": stages[1] = null; break;
            case "head size": node["head"]!["layerSizes"] = new JsonArray(96, 8, 2); break;
            default: throw new ArgumentOutOfRangeException(nameof(mistake), mistake, null);
        }

        var e = ParseFails(node);

        Assert.Equal(field, e.Field);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Non_finite_affine_values_are_refused()
    {
        var manifest = AudioManifest();
        var stages = manifest.InputSchema.Stages.ToArray();
        stages[1] = new AffineStageSpec(float.NaN, 2);
        var bad = manifest with { InputSchema = manifest.InputSchema with { Stages = stages } };

        var e = Assert.Throws<BundleException>(() => bad.Validate());

        Assert.Equal("inputSchema.stages[1].scale", e.Field);
        Assert.Contains("NaN", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Save_copies_and_hashes_every_stage_file_and_a_tampered_one_fails_verification()
    {
        var models = SpeechTestSupport.RequireModels();
        var written = SpeechBundleBuilder.Save(_tmp.Sub("kws"), new SpeechBundleOptions { Name = "kws", LabelNames = ["a", "b"], SpeechModelDirectory = models });

        Assert.Equal(["embedding_model.onnx", "head.safetensors", "melspectrogram.onnx"], written.Files.Keys);
        var bundle = ModelBundle.Load(_tmp.Sub("kws"));
        Assert.Equal(Path.Combine(_tmp.Sub("kws"), "melspectrogram.onnx"), bundle.StageFiles["melspectrogram.onnx"]);
        Assert.Null(bundle.BackbonePath);
        Assert.Equal(File.ReadAllBytes(Path.Combine(models, "embedding_model.onnx")), File.ReadAllBytes(bundle.StageFiles["embedding_model.onnx"]));

        // One flipped byte in a stage model: the hash in files (which the signature covers) no longer matches.
        var path = bundle.StageFiles["embedding_model.onnx"];
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<BundleException>(() => ModelBundle.Load(_tmp.Sub("kws")));
        Assert.Equal("files.embedding_model.onnx", e.Field);
        Assert.Contains("SHA-256 mismatch", e.Message, StringComparison.Ordinal);

        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        ModelBundle.Load(_tmp.Sub("kws"));
        File.Delete(Path.Combine(_tmp.Sub("kws"), "melspectrogram.onnx"));
        Assert.Contains("missing", Assert.Throws<BundleException>(() => ModelBundle.Load(_tmp.Sub("kws"))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Signed_audio_bundle_signature_covers_the_stage_hashes()
    {
        var models = SpeechTestSupport.RequireModels();
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var written = SpeechBundleBuilder.Save(_tmp.Sub("signed"), new SpeechBundleOptions
        {
            Name = "kws", LabelNames = ["a", "b"], SpeechModelDirectory = models,
            Sign = m => Convert.ToBase64String(key.SignData(m.CanonicalBytesForSigning(), System.Security.Cryptography.HashAlgorithmName.SHA256)),
        });
        var loaded = ModelBundle.Load(_tmp.Sub("signed")).Manifest;
        bool Verifies(ModelManifest m) =>
            key.VerifyData(m.CanonicalBytesForSigning(), Convert.FromBase64String(m.Signature!), System.Security.Cryptography.HashAlgorithmName.SHA256);

        Assert.True(Verifies(loaded));
        var files = new SortedDictionary<string, string>(loaded.Files.ToDictionary(), StringComparer.Ordinal) { ["melspectrogram.onnx"] = Hash };
        Assert.False(Verifies(loaded with { Files = files }));
        var stages = loaded.InputSchema.Stages.ToArray();
        stages[2] = new WindowStageSpec(76, 4);
        Assert.False(Verifies(loaded with { InputSchema = loaded.InputSchema with { Stages = stages } }));
        Assert.Equal(written.Signature, loaded.Signature);
    }

    [Fact]
    public void Save_requires_exactly_the_stage_files_the_manifest_runs()
    {
        var manifest = AudioManifest();
        var weights = HeadInitializer.Initialize(manifest.Head, 1);
        var onnx = _tmp.Sub("x.onnx");
        File.WriteAllBytes(onnx, [1, 2, 3]);

        var missing = Assert.Throws<ArgumentException>(() => ModelBundle.Save(_tmp.Sub("a"), manifest, weights,
            stageFiles: new Dictionary<string, string> { ["melspectrogram.onnx"] = onnx }));
        Assert.Contains("'embedding_model.onnx' has no source", missing.Message, StringComparison.Ordinal);
        var extra = Assert.Throws<ArgumentException>(() => ModelBundle.Save(_tmp.Sub("b"), manifest, weights,
            stageFiles: new Dictionary<string, string> { ["melspectrogram.onnx"] = onnx, ["embedding_model.onnx"] = onnx, ["other.onnx"] = onnx }));
        Assert.Contains("'other.onnx'", extra.Message, StringComparison.Ordinal);
        Assert.Throws<BundleException>(() => ModelBundle.Save(_tmp.Sub("c"), manifest, weights, backboneOnnxPath: onnx,
            stageFiles: new Dictionary<string, string> { ["melspectrogram.onnx"] = onnx, ["embedding_model.onnx"] = onnx }));
    }
}
