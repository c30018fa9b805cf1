using System.Runtime.InteropServices;
using ContinualLearning.Onnx;
using ContinualLearning.Onnx.Proto;
using ContinualLearning.Training;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using static ContinualLearning.UnitTests.Onnx.OnnxTestSupport;

namespace ContinualLearning.UnitTests.Onnx;

public class BackboneWithHeadExportTests
{
    private const double Tolerance = 1e-5;

    [Theory]
    [InlineData(LossKind.SoftmaxCrossEntropy)]
    [InlineData(LossKind.BinaryCrossEntropy)]
    [InlineData(LossKind.MeanSquaredError)]
    public void Combined_model_equals_backbone_runner_then_head(LossKind loss)
    {
        using var dir = new TempDirectory();
        // The backbone is itself one of our exports, so its names ("input", "output", "0.weight", …) all clash with the head's.
        var backbonePath = OnnxBackboneTests.WriteBackbone(dir, out _);
        var spec = new HeadSpec([16, 12, 3], loss);
        var headWeights = HeadInitializer.Initialize(spec, seed: 5);
        var combinedPath = dir.File("combined.onnx");
        OnnxExporter.ExportBackboneWithHead(backbonePath, spec, headWeights, combinedPath);

        const int batch = 50;
        var x = RandomInputs(batch * 8, seed: 8);
        using var backbone = new OnnxBackbone(backbonePath);
        var embeddings = backbone.Embed(x, batch);

        var combined = File.ReadAllBytes(combinedPath);
        var model = ModelProto.Parser.ParseFrom(combined);
        var modelOutput = Assert.Single(model.Graph.Output);
        var ort = RunOrt(combined, x, [batch, 8], "input", modelOutput.Name);

        AssertClose(ReferencePredict(spec, headWeights, embeddings, batch), ort, Tolerance, $"combined vs embedding → reference head ({loss})");
        using var head = new ManagedEngine().Create(spec, new TrainingOptions(), headWeights);
        var managed = new float[batch * spec.OutputSize];
        head.Predict(embeddings, batch, managed);
        AssertClose(managed, ort, Tolerance, $"combined vs embedding → ManagedEngine.Predict ({loss})");

        // Names stayed unique and the backbone's part is unchanged.
        var initializerNames = model.Graph.Initializer.Select(t => t.Name).ToList();
        Assert.Equal(initializerNames.Count, initializerNames.Distinct().Count());
        Assert.Contains("head.0.weight", initializerNames);
        Assert.Contains("0.weight", initializerNames);
        Assert.Equal("head.output", modelOutput.Name);
        Assert.Equal(spec.OutputSize, modelOutput.Type.TensorType.Shape.Dim[1].DimValue);
    }

    [Fact]
    public void Fields_outside_our_schema_subset_survive_parse_and_export()
    {
        using var dir = new TempDirectory();
        var backboneBytes = File.ReadAllBytes(OnnxBackboneTests.WriteBackbone(dir, out _));
        // Append ModelProto.doc_string (6) and metadata_props (14, StringStringEntryProto{key=1, value=2}):
        // fields our subset does not declare, as a model from another tool would carry.
        var withExtras = AppendUnknownModelFields(backboneBytes, "made elsewhere", "source", "unit-test");

        var roundTripped = ModelProto.Parser.ParseFrom(withExtras).ToByteArray();
        Assert.Equal("unit-test", Metadata(roundTripped)["source"]);

        var spec = new HeadSpec([16, 2], LossKind.SoftmaxCrossEntropy);
        var combined = OnnxExporter.ExportBackboneWithHead(withExtras, spec, HeadInitializer.Initialize(spec, 1));
        Assert.Equal("unit-test", Metadata(combined)["source"]);
        using var options = new SessionOptions();
        using var session = new InferenceSession(combined, options);
        Assert.Equal("made elsewhere", session.ModelMetadata.Description);
    }

    [Fact]
    public void Rank_four_backbone_output_is_flattened_before_the_head()
    {
        using var dir = new TempDirectory();
        var backboneModel = ModelProto.Parser.ParseFrom(File.ReadAllBytes(OnnxBackboneTests.WriteBackbone(dir, out _)));
        // Reshape the 16-wide embedding to [N, 4, 2, 2], like a convolutional backbone's feature map.
        var graph = backboneModel.Graph;
        var shape = new TensorProto { Name = "map_shape", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 4 } };
        shape.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(new long[] { -1, 4, 2, 2 }.AsSpan()));
        graph.Initializer.Add(shape);
        graph.Node.Add(new NodeProto { OpType = "Reshape", Name = "to_map", Input = { "output", "map_shape" }, Output = { "feature_map" } });
        graph.Output.Clear();
        graph.Output.Add(OnnxBackboneTests.FloatValue("feature_map", 4, 2, 2));
        var backboneBytes = backboneModel.ToByteArray();

        var spec = new HeadSpec([16, 3], LossKind.MeanSquaredError);
        var weights = HeadInitializer.Initialize(spec, 4);
        var combined = OnnxExporter.ExportBackboneWithHead(backboneBytes, spec, weights);
        var combinedModel = ModelProto.Parser.ParseFrom(combined);
        Assert.Contains(combinedModel.Graph.Node, n => n.OpType == "Flatten");
        // "output" is taken by the backbone's inner value, so the combined output gets the head's prefix.
        Assert.Equal("head.output", Assert.Single(combinedModel.Graph.Output).Name);

        const int batch = 6;
        var x = RandomInputs(batch * 8, seed: 12);
        var featureMap = RunOrt(backboneBytes, x, [batch, 8]);
        var ort = RunOrt(combined, x, [batch, 8], outputName: "head.output");
        AssertClose(ReferencePredict(spec, weights, featureMap, batch), ort, Tolerance, "flattened feature map → head");
    }

    [Fact]
    public void Head_width_must_match_the_backbone_embedding()
    {
        using var dir = new TempDirectory();
        var backbone = File.ReadAllBytes(OnnxBackboneTests.WriteBackbone(dir, out _));
        var spec = new HeadSpec([10, 2], LossKind.SoftmaxCrossEntropy);
        var ex = Assert.Throws<ArgumentException>(() => OnnxExporter.ExportBackboneWithHead(backbone, spec, HeadInitializer.Initialize(spec, 1)));
        Assert.Contains("16 features", ex.Message);
        Assert.Contains("expects 10", ex.Message);
    }

    [Fact]
    public void Garbage_backbone_bytes_are_reported_as_invalid()
    {
        var spec = new HeadSpec([4, 2], LossKind.SoftmaxCrossEntropy);
        using var dir = new TempDirectory();
        var path = dir.File("bad.onnx");
        File.WriteAllBytes(path, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
        var ex = Assert.Throws<InvalidDataException>(() => OnnxExporter.ExportBackboneWithHead(path, spec, HeadInitializer.Initialize(spec, 1), dir.File("out.onnx")));
        Assert.Contains("bad.onnx", ex.Message);
        Assert.Throws<FileNotFoundException>(() => OnnxExporter.ExportBackboneWithHead(dir.File("missing.onnx"), spec, HeadInitializer.Initialize(spec, 1), dir.File("out.onnx")));
    }

    private static byte[] AppendUnknownModelFields(byte[] model, string docString, string key, string value)
    {
        using var stream = new MemoryStream();
        stream.Write(model);
        var output = new CodedOutputStream(stream);
        output.WriteTag(6, WireFormat.WireType.LengthDelimited);
        output.WriteString(docString);
        var entry = new MemoryStream();
        var entryOutput = new CodedOutputStream(entry);
        entryOutput.WriteTag(1, WireFormat.WireType.LengthDelimited);
        entryOutput.WriteString(key);
        entryOutput.WriteTag(2, WireFormat.WireType.LengthDelimited);
        entryOutput.WriteString(value);
        entryOutput.Flush();
        output.WriteTag(14, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(entry.ToArray()));
        output.Flush();
        return stream.ToArray();
    }

    private static Dictionary<string, string> Metadata(byte[] model)
    {
        using var options = new SessionOptions();
        using var session = new InferenceSession(model, options);
        return session.ModelMetadata.CustomMetadataMap;
    }
}
