using System.Text;
using System.Text.Json.Nodes;
using ContinualLearning.Bundle;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Bundle;

public sealed class ModelManifestTests
{
    private static string ValidJson() => Encoding.UTF8.GetString(
        (TestBundles.Manifest() with { Files = new Dictionary<string, string> { ["head.safetensors"] = new string('a', 64) } }).ToJsonBytes());

    private static BundleException ParseFails(string json) =>
        Assert.Throws<BundleException>(() => ModelManifest.Parse(Encoding.UTF8.GetBytes(json)));

    [Fact]
    public void Json_round_trip_preserves_every_field()
    {
        var m = TestBundles.Manifest() with
        {
            Files = new Dictionary<string, string> { ["head.safetensors"] = new string('b', 64) },
            Signature = Convert.ToBase64String([1, 2, 3]),
        };

        var back = ModelManifest.Parse(m.ToJsonBytes());

        Assert.Equal(m.Name, back.Name);
        Assert.Equal(m.Version, back.Version);
        Assert.Equal(m.ParentVersion, back.ParentVersion);
        Assert.Equal(m.CreatedUtc, back.CreatedUtc);
        Assert.Equal(DateTimeKind.Utc, back.CreatedUtc.Kind);
        Assert.Equal(m.InputSchema, back.InputSchema);
        Assert.Equal(m.Task, back.Task);
        Assert.Equal(m.Head, back.Head);
        Assert.Equal(m.Training, back.Training);
        Assert.Equal(m.Files, back.Files);
        Assert.Equal(m.Signature, back.Signature);
        Assert.Equal(m.CanonicalBytesForSigning(), back.CanonicalBytesForSigning());
    }

    [Fact]
    public void Json_uses_camel_case_names_and_enum_strings()
    {
        var json = ValidJson();

        foreach (var s in new[] { "\"parentVersion\"", "\"createdUtc\": \"2025-01-31T12:00:00Z\"", "\"labelNames\"", "\"softmaxCrossEntropy\"", "\"relu\"", "\"sgd\"", "\"batchSize\": 16", "\"signature\": null" })
            Assert.Contains(s, json);
    }

    [Fact]
    public void Regression_and_binary_heads_round_trip()
    {
        var regression = TestBundles.Manifest() with { Task = TaskSpec.Regression("price", "demand"), Head = new HeadSpec([3, 2], LossKind.MeanSquaredError, Activation.None) };
        var binary = TestBundles.Manifest() with { Head = new HeadSpec([3, 8, 1], LossKind.BinaryCrossEntropy) };

        Assert.Equal(regression.Task, ModelManifest.Parse(regression.ToJsonBytes()).Task);
        Assert.Equal(binary.Head, ModelManifest.Parse(binary.ToJsonBytes()).Head);
        Assert.DoesNotContain("labelNames", Encoding.UTF8.GetString(regression.ToJsonBytes()));
    }

    [Fact]
    public void Missing_training_section_gets_TrainingOptions_defaults()
    {
        var json = ValidJson();
        var start = json.IndexOf("\"training\"", StringComparison.Ordinal);
        var end = json.IndexOf('}', start);
        var without = json.Remove(start, end - start + 2);

        var m = ModelManifest.Parse(Encoding.UTF8.GetBytes(without));

        Assert.Equal(new TrainingOptions(), m.Training.Options);
        Assert.Equal(32, m.Training.BatchSize);
    }

    [Fact]
    public void Canonical_bytes_ignore_signature_and_file_insertion_order_but_not_content()
    {
        var a = TestBundles.Manifest() with { Files = new Dictionary<string, string> { ["head.safetensors"] = new string('a', 64), ["backbone.onnx"] = new string('b', 64) } };
        var b = a with { Files = new Dictionary<string, string> { ["backbone.onnx"] = new string('b', 64), ["head.safetensors"] = new string('a', 64) }, Signature = "AAAA" };

        Assert.Equal(a.CanonicalBytesForSigning(), b.CanonicalBytesForSigning());
        Assert.NotEqual(a.CanonicalBytesForSigning(), (a with { Version = "1.2.1" }).CanonicalBytesForSigning());
        var text = Encoding.UTF8.GetString(a.CanonicalBytesForSigning());
        Assert.Contains("\"signature\":null", text);
        Assert.DoesNotContain(" ", text.Replace("T12:00:00Z", "", StringComparison.Ordinal));
        Assert.True(text.IndexOf("backbone.onnx", StringComparison.Ordinal) < text.IndexOf("head.safetensors", StringComparison.Ordinal));
    }

    [Fact]
    public void Malformed_json_reports_line_and_position()
    {
        var json = ValidJson();
        var broken = json.Replace("\"version\": \"1.2.0\",", "\"version\": \"1.2.0\"", StringComparison.Ordinal);
        var line = json[..json.IndexOf("\"version\"", StringComparison.Ordinal)].Count(c => c == '\n') + 2; // error is on the next line

        var e = ParseFails(broken);

        Assert.Contains($"malformed JSON at line {line}", e.Message);
        Assert.Equal("manifest.json", e.File);
    }

    [Theory]
    [InlineData("\"name\": \"elec2\"", "\"name\": \"bad/name\"", "name", "'bad/name'")]
    [InlineData("\"version\": \"1.2.0\"", "\"version\": \"1.2\"", "version", "'1.2'")]
    [InlineData("\"version\": \"1.2.0\"", "\"version\": \"01.2.0\"", "version", "'01'")]
    [InlineData("\"parentVersion\": \"1.1.0\"", "\"parentVersion\": \"1.2.0\"", "parentVersion", "own parent")]
    [InlineData("\"createdUtc\": \"2025-01-31T12:00:00Z\"", "\"createdUtc\": \"2025-01-31T12:00:00\"", "createdUtc", "not UTC")]
    [InlineData("\"std\": 0.15", "\"std\": 0", "inputSchema.features[1].std", "0 for feature 'nswdemand' must be a finite number > 0")]
    [InlineData("\"std\": 0.15", "\"std\": -1", "inputSchema.features[1].std", "-1 for feature 'nswdemand'")]
    [InlineData("\"name\": \"nswdemand\"", "\"name\": \"nswprice\"", "inputSchema.features[1].name", "'nswprice' appears twice")]
    [InlineData("\"loss\": \"softmaxCrossEntropy\"", "\"loss\": \"hinge\"", "head.loss", "'hinge' is not one of softmaxCrossEntropy")]
    [InlineData("\"loss\": \"softmaxCrossEntropy\"", "\"loss\": \"meanSquaredError\"", "head.loss", "meanSquaredError is for regression")]
    [InlineData("\"loss\": \"softmaxCrossEntropy\"", "\"loss\": \"binaryCrossEntropy\"", "head.loss", "2 labels and 1 output")]
    [InlineData("\"hiddenActivation\": \"relu\"", "\"hiddenActivation\": \"gelu\"", "head.hiddenActivation", "'gelu'")]
    [InlineData("\"kind\": \"classification\"", "\"kind\": \"ranking\"", "task.kind", "'ranking'")]
    [InlineData("\"optimizer\": \"sgd\"", "\"optimizer\": \"lion\"", "training.optimizer", "'lion'")]
    [InlineData("\"learningRate\": 0.05", "\"learningRate\": -0.05", "training.learningRate", "-0.05")]
    [InlineData("\"momentum\": 0.9", "\"momentum\": 1.5", "training.momentum", "1.5")]
    [InlineData("\"batchSize\": 16", "\"batchSize\": 0", "training.batchSize", "0 must be")]
    [InlineData("\"signature\": null", "\"signature\": \"not base64!\"", "signature", "'not base64!' is not valid base64")]
    [InlineData("\"formatVersion\": 1", "\"formatVersion\": 9", "formatVersion", "9 is not supported")]
    public void Invalid_field_is_named_with_its_value(string find, string replace, string field, string expected)
    {
        var json = ValidJson();
        Assert.Contains(find, json);

        var e = ParseFails(json.Replace(find, replace, StringComparison.Ordinal));

        Assert.Equal(field, e.Field);
        Assert.Contains(expected, e.Message);
        Assert.Contains($"'{field}'", e.Message);
    }

    [Fact]
    public void Head_input_must_match_the_feature_count()
    {
        var node = JsonNode.Parse(ValidJson())!;
        node["head"]!["layerSizes"]![0] = 5;

        var e = ParseFails(node.ToJsonString());

        Assert.Equal("head.layerSizes[0]", e.Field);
        Assert.Contains("head input size 5 does not match the 3 features", e.Message);
    }

    [Fact]
    public void Softmax_head_needs_one_output_per_label()
    {
        var m = TestBundles.Manifest() with { Task = TaskSpec.Classification("a", "b", "c") };

        var e = Assert.Throws<BundleException>(() => m.Validate());

        Assert.Equal("head.layerSizes", e.Field);
        Assert.Contains("3 labels but the head has 2 outputs", e.Message);
    }

    [Fact]
    public void Classification_needs_two_distinct_labels()
    {
        Assert.Equal("task.labelNames", Assert.Throws<BundleException>(() => (TestBundles.Manifest() with { Task = TaskSpec.Classification("only") }).Validate()).Field);
        var dup = Assert.Throws<BundleException>(() => (TestBundles.Manifest() with { Task = TaskSpec.Classification("UP", "UP") }).Validate());
        Assert.Equal("task.labelNames[1]", dup.Field);
        Assert.Contains("'UP' appears twice", dup.Message);
    }

    [Theory]
    [InlineData("name", "name")]
    [InlineData("version", "version")]
    [InlineData("createdUtc", "createdUtc")]
    [InlineData("files", "files")]
    [InlineData("inputSchema", "inputSchema")]
    [InlineData("head.loss", "head.loss")]
    [InlineData("inputSchema.features.0.std", "inputSchema.features[0].std")]
    public void Missing_required_field_is_named(string path, string field)
    {
        var node = JsonNode.Parse(ValidJson())!;
        var parts = path.Split('.');
        var parent = parts[..^1].Aggregate(node, (n, p) => int.TryParse(p, out var i) ? n[i]! : n[p]!);
        parent.AsObject().Remove(parts[^1]);

        var e = ParseFails(node.ToJsonString());

        Assert.Equal(field, e.Field);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void Unknown_property_is_rejected_so_typos_do_not_fall_back_to_defaults()
    {
        var e = ParseFails(ValidJson().Replace("\"learningRate\"", "\"learningrate\"", StringComparison.Ordinal));

        Assert.Contains("learningrate", e.Message);
        Assert.Contains("malformed JSON at line", e.Message);
    }

    [Theory]
    [InlineData("\"batchSize\": 16", "\"batchSize\": \"16\"", "training.batchSize", "expected an integer")]
    [InlineData("\"std\": 0.15", "\"std\": NaN", "inputSchema.features[1].std", "'N' is an invalid start of a value")]
    [InlineData("\"createdUtc\": \"2025-01-31T12:00:00Z\"", "\"createdUtc\": \"yesterday\"", "createdUtc", "expected an ISO-8601 UTC time")]
    [InlineData("\"name\": \"elec2\"", "\"name\": 7", "name", "expected a string")]
    public void Wrong_json_type_is_named_with_line_and_what_was_expected(string find, string replace, string field, string expected)
    {
        var json = ValidJson();
        Assert.Contains(find, json);

        var e = ParseFails(json.Replace(find, replace, StringComparison.Ordinal));

        Assert.Equal(field, e.Field);
        Assert.Contains("malformed JSON at line", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain("System.", e.Message);
    }

    [Fact]
    public void Duplicate_property_is_rejected()
    {
        var e = ParseFails(ValidJson().Replace("\"name\": \"elec2\",", "\"name\": \"elec2\", \"name\": \"other\",", StringComparison.Ordinal));

        Assert.Contains("name", e.Message);
    }

    [Fact]
    public void File_hash_must_be_lower_case_hex_sha256()
    {
        var m = TestBundles.Manifest() with { Files = new Dictionary<string, string> { ["head.safetensors"] = "ABC" } };
        var e = Assert.Throws<BundleException>(() => m.Validate());
        Assert.Equal("files.head.safetensors", e.Field);
        Assert.Contains("'ABC' is not a SHA-256", e.Message);

        var path = TestBundles.Manifest() with { Files = new Dictionary<string, string> { ["../x"] = new string('a', 64) } };
        Assert.Contains("not a plain bundle file name", Assert.Throws<BundleException>(() => path.Validate()).Message);
    }

    [Theory]
    [InlineData("1.0.0", true)]
    [InlineData("0.0.1-rc.1", true)]
    [InlineData("10.20.30-alpha-1.x+build.5", true)]
    [InlineData("1.0", false)]
    [InlineData("1.0.0.0", false)]
    [InlineData("v1.0.0", false)]
    [InlineData("1.0.0-", false)]
    [InlineData("1.0.0-01", false)]
    [InlineData("1.00.0", false)]
    [InlineData("", false)]
    public void Semantic_version_syntax(string text, bool valid) =>
        Assert.Equal(valid, SemanticVersion.TryParse(text, out _));

    [Fact]
    public void Semantic_version_precedence_follows_semver()
    {
        string[] ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0"];
        var shuffled = ordered.Reverse().Select(SemanticVersion.Parse).ToList();

        shuffled.Sort();

        Assert.Equal(ordered, shuffled.Select(v => v.ToString()));
        Assert.Equal(SemanticVersion.Parse("1.0.0+a"), SemanticVersion.Parse("1.0.0+b"));
    }
}
