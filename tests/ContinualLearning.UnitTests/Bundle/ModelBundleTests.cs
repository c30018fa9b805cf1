using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ContinualLearning.Bundle;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Bundle;

public sealed class ModelBundleTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private string SaveValid(string name = "model")
    {
        var m = TestBundles.Manifest();
        ModelBundle.Save(_tmp.Sub(name), m, TestBundles.Weights(m.Head));
        return _tmp.Sub(name);
    }

    /// <summary>Replaces head.safetensors and fixes its hash in the manifest, so only the content rule under test fails.</summary>
    private static void ReplaceHead(string dir, byte[] bytes)
    {
        File.WriteAllBytes(Path.Combine(dir, "head.safetensors"), bytes);
        EditManifest(dir, n => n["files"]!["head.safetensors"] = Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }

    private static void EditManifest(string dir, Action<JsonNode> edit)
    {
        var path = Path.Combine(dir, "manifest.json");
        var node = JsonNode.Parse(File.ReadAllText(path))!;
        edit(node);
        File.WriteAllText(path, node.ToJsonString());
    }

    private static BundleException LoadFails(string dir) => Assert.Throws<BundleException>(() => ModelBundle.Load(dir));

    [Fact]
    public void Save_then_load_round_trips_manifest_and_weights_in_state_dict_order()
    {
        var m = TestBundles.Manifest();
        var weights = TestBundles.Weights(m.Head);
        var shuffled = weights.Reverse().ToArray();

        var written = ModelBundle.Save(_tmp.Sub("model"), m, shuffled);
        var bundle = ModelBundle.Load(_tmp.Sub("model"));

        Assert.Equal(m.Head.Parameters().Select(p => p.Name), bundle.HeadWeights.Select(w => w.Name));
        for (var i = 0; i < weights.Length; i++)
            Assert.Equal(weights[i].Data, bundle.HeadWeights[i].Data);
        Assert.Equal(written.CanonicalBytesForSigning(), bundle.Manifest.CanonicalBytesForSigning());
        Assert.Equal(["head.safetensors"], bundle.Manifest.Files.Keys);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(_tmp.Sub("model/head.safetensors")))), bundle.Manifest.Files["head.safetensors"]);
        Assert.Null(bundle.BackbonePath);
        Assert.Equal(["nswprice", "nswdemand", "period"], bundle.Features.FeatureNames);
        Assert.Equal(1, bundle.Labels!.IndexOf("UP"));
        Assert.Equal(0.05f, bundle.TrainingOptions.LearningRate);
    }

    [Fact]
    public void Bundle_with_backbone_copies_and_hashes_it()
    {
        var onnx = _tmp.Sub("source.onnx");
        File.WriteAllBytes(onnx, Enumerable.Range(0, 200_000).Select(i => (byte)i).ToArray());
        var m = TestBundles.Manifest() with { InputSchema = TestBundles.Manifest().InputSchema with { EmbeddingSize = 6 }, Head = new HeadSpec([6, 2], LossKind.SoftmaxCrossEntropy) };

        var written = ModelBundle.Save(_tmp.Sub("model"), m, TestBundles.Weights(m.Head), onnx);
        var bundle = ModelBundle.Load(_tmp.Sub("model"));

        Assert.Equal(File.ReadAllBytes(onnx), File.ReadAllBytes(bundle.BackbonePath!));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(onnx))), written.Files["backbone.onnx"]);
        Assert.Equal(6, bundle.Manifest.InputSchema.HeadInputSize);
    }

    [Fact]
    public void Signer_receives_the_hashed_manifest_and_the_signature_is_stored()
    {
        var m = TestBundles.Manifest();
        byte[]? signed = null;

        ModelBundle.Save(_tmp.Sub("model"), m, TestBundles.Weights(m.Head), sign: final =>
        {
            Assert.True(final.Files.ContainsKey("head.safetensors"));
            signed = final.CanonicalBytesForSigning();
            return Convert.ToBase64String(SHA256.HashData(signed)); // stand-in for a real signature
        });
        var loaded = ModelBundle.Load(_tmp.Sub("model"));

        Assert.Equal(signed, loaded.Manifest.CanonicalBytesForSigning());
        Assert.Equal(Convert.ToBase64String(SHA256.HashData(signed!)), loaded.Manifest.Signature);
    }

    [Fact]
    public void Save_refuses_to_overwrite_unless_asked_and_leaves_no_staging_directories()
    {
        var dir = SaveValid();
        var m = TestBundles.Manifest() with { Version = "1.3.0" };

        Assert.Throws<IOException>(() => ModelBundle.Save(dir, m, TestBundles.Weights(m.Head)));
        ModelBundle.Save(dir, m, TestBundles.Weights(m.Head, seed: 2), overwrite: true);

        Assert.Equal("1.3.0", ModelBundle.Load(dir).Manifest.Version);
        Assert.Equal(["model"], Directory.EnumerateFileSystemEntries(_tmp.Path).Select(Path.GetFileName));
        Assert.Equal(["head.safetensors", "manifest.json"], Directory.EnumerateFiles(dir).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void Save_rejects_weights_that_do_not_fit_the_head_and_writes_nothing()
    {
        var m = TestBundles.Manifest();
        var bad = TestBundles.Weights(m.Head);
        bad[0].Data[3] = float.NaN;

        var e = Assert.Throws<BundleException>(() => ModelBundle.Save(_tmp.Sub("model"), m, bad));

        Assert.Equal("0.weight", e.Field);
        Assert.Contains("index 3 is NaN", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_tmp.Path));
    }

    [Fact]
    public void Recover_restores_the_previous_bundle_after_a_crash_between_the_two_renames()
    {
        var dir = SaveValid();
        // Simulate the crash window: old bundle renamed aside, new one not yet in place, a staging dir left behind.
        Directory.Move(dir, _tmp.Sub(".model.123.old"));
        Directory.CreateDirectory(_tmp.Sub(".model.456.staging"));

        Assert.True(ModelBundle.RecoverInterruptedSave(dir));

        Assert.Equal("1.2.0", ModelBundle.Load(dir).Manifest.Version);
        Assert.Equal(["model"], Directory.EnumerateFileSystemEntries(_tmp.Path).Select(Path.GetFileName));
        Assert.False(ModelBundle.RecoverInterruptedSave(dir));
    }

    // ---- one failing load per rule ----

    [Fact]
    public void Missing_directory()
    {
        var e = LoadFails(_tmp.Sub("nope"));
        Assert.Equal(_tmp.Sub("nope"), e.File);
        Assert.Contains("bundle directory not found", e.Message);
    }

    [Fact]
    public void Missing_manifest()
    {
        var dir = SaveValid();
        File.Delete(Path.Combine(dir, "manifest.json"));

        var e = LoadFails(dir);

        Assert.Equal(Path.Combine(dir, "manifest.json"), e.File);
        Assert.Contains("manifest.json", e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void Missing_head_file()
    {
        var dir = SaveValid();
        File.Delete(Path.Combine(dir, "head.safetensors"));

        var e = LoadFails(dir);

        Assert.Equal(Path.Combine(dir, "head.safetensors"), e.File);
        Assert.Equal("files.head.safetensors", e.Field);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void Malformed_manifest_json_names_line_and_position()
    {
        var dir = SaveValid();
        File.WriteAllText(Path.Combine(dir, "manifest.json"), "{\n  \"name\": \"elec2\",\n  \"version\": 1.2.0\n}");

        var e = LoadFails(dir);

        Assert.EndsWith("manifest.json", e.File);
        Assert.Contains("malformed JSON at line 3", e.Message);
        Assert.Contains("position", e.Message);
    }

    [Fact]
    public void Invalid_manifest_field_names_file_field_and_value()
    {
        var dir = SaveValid();
        EditManifest(dir, n => n["inputSchema"]!["features"]![2]!["std"] = -3);

        var e = LoadFails(dir);

        Assert.EndsWith("manifest.json", e.File);
        Assert.Equal("inputSchema.features[2].std", e.Field);
        Assert.Contains("-3 for feature 'period'", e.Message);
    }

    [Fact]
    public void Sha256_mismatch_reports_expected_and_actual()
    {
        var dir = SaveValid();
        var path = Path.Combine(dir, "head.safetensors");
        var expected = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
        var bytes = File.ReadAllBytes(path);
        bytes[^1] ^= 0x01; // flip one bit of the last weight
        File.WriteAllBytes(path, bytes);
        var actual = Convert.ToHexStringLower(SHA256.HashData(bytes));

        var e = LoadFails(dir);

        Assert.Equal(path, e.File);
        Assert.Equal("files.head.safetensors", e.Field);
        Assert.Contains($"expects {expected}", e.Message);
        Assert.Contains($"hashes to {actual}", e.Message);
    }

    [Fact]
    public void Unsupported_dtype_in_head()
    {
        var dir = SaveValid();
        var f64 = Encoding.ASCII.GetBytes("{\"0.bias\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}");
        var padded = f64.Concat(Enumerable.Repeat((byte)' ', (8 - f64.Length % 8) % 8)).ToArray();
        ReplaceHead(dir, BitConverter.GetBytes((ulong)padded.Length).Concat(padded).Concat(new byte[8]).ToArray());

        var e = LoadFails(dir);

        Assert.EndsWith("head.safetensors", e.File);
        Assert.Equal("0.bias.dtype", e.Field);
        Assert.Contains("unsupported dtype 'F64' for tensor '0.bias'", e.Message);
    }

    [Fact]
    public void Tensor_shape_mismatch_against_head_architecture()
    {
        var dir = SaveValid();
        var weights = TestBundles.Weights(new HeadSpec([3, 4, 2], LossKind.SoftmaxCrossEntropy));
        weights[0] = new NamedTensor("0.weight", [3, 4], weights[0].Data); // transposed by mistake
        ReplaceHead(dir, SafeTensors.Write(weights));

        var e = LoadFails(dir);

        Assert.Equal("0.weight", e.Field);
        Assert.Contains("shape [3, 4] does not match head 3→4→2", e.Message);
        Assert.Contains("needs [4, 3]", e.Message);
    }

    [Fact]
    public void Missing_tensor()
    {
        var dir = SaveValid();
        ReplaceHead(dir, SafeTensors.Write(TestBundles.Weights(new HeadSpec([3, 4, 2], LossKind.SoftmaxCrossEntropy)).Where(w => w.Name != "2.bias").ToArray()));

        var e = LoadFails(dir);

        Assert.Equal("2.bias", e.Field);
        Assert.Contains("tensor missing", e.Message);
    }

    [Fact]
    public void Unexpected_tensor()
    {
        var dir = SaveValid();
        var weights = TestBundles.Weights(new HeadSpec([3, 4, 2], LossKind.SoftmaxCrossEntropy)).Append(new NamedTensor("4.weight", [2, 2], new float[4])).ToArray();
        ReplaceHead(dir, SafeTensors.Write(weights));

        var e = LoadFails(dir);

        Assert.Equal("4.weight", e.Field);
        Assert.Contains("unexpected tensor(s) 4.weight", e.Message);
    }

    [Fact]
    public void Non_finite_weight_names_tensor_and_index()
    {
        var dir = SaveValid();
        var weights = TestBundles.Weights(new HeadSpec([3, 4, 2], LossKind.SoftmaxCrossEntropy));
        weights[3].Data[1] = float.PositiveInfinity; // 2.bias[1]
        ReplaceHead(dir, SafeTensors.Write(weights));

        var e = LoadFails(dir);

        Assert.Equal("2.bias", e.Field);
        Assert.Contains("index 1 is ∞", e.Message.Replace("Infinity", "∞", StringComparison.Ordinal));
    }

    [Fact]
    public void Unlisted_backbone_is_rejected()
    {
        var dir = SaveValid();
        File.WriteAllBytes(Path.Combine(dir, "backbone.onnx"), [1, 2, 3]);

        var e = LoadFails(dir);

        Assert.EndsWith("backbone.onnx", e.File);
        Assert.Contains("not listed", e.Message);
    }

    [Fact]
    public void Embedding_size_without_backbone_is_rejected()
    {
        var dir = SaveValid();
        EditManifest(dir, n =>
        {
            n["inputSchema"]!["embeddingSize"] = 3;
        });

        var e = LoadFails(dir);

        Assert.Equal("inputSchema.embeddingSize", e.Field);
        Assert.Contains("3 is set but the bundle has no backbone.onnx", e.Message);
    }

    [Fact]
    public void Manifest_without_head_file_entry_is_rejected()
    {
        var dir = SaveValid();
        EditManifest(dir, n => n["files"]!.AsObject().Remove("head.safetensors"));

        var e = LoadFails(dir);

        Assert.Equal("files", e.Field);
        Assert.Contains("does not list head.safetensors", e.Message);
    }
}
