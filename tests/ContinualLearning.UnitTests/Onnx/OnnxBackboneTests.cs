using ContinualLearning.Onnx;
using ContinualLearning.Onnx.Proto;
using ContinualLearning.Training;
using Google.Protobuf;
using static ContinualLearning.UnitTests.Onnx.OnnxTestSupport;

namespace ContinualLearning.UnitTests.Onnx;

public class OnnxBackboneTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-5;

    /// <summary>A real backbone without downloads: a random 8→32→16 MLP (ReLU inside, identity output) exported by our exporter.</summary>
    internal static readonly HeadSpec BackboneSpec = new([8, 32, 16], LossKind.MeanSquaredError);

    internal static string WriteBackbone(TempDirectory dir, out IReadOnlyList<ContinualLearning.Tensors.NamedTensor> weights, int seed = 21)
    {
        weights = HeadInitializer.Initialize(BackboneSpec, seed);
        var path = dir.File("backbone.onnx");
        OnnxExporter.ExportHead(BackboneSpec, weights, path);
        return path;
    }

    [Fact]
    public void Reads_names_and_shapes_and_embeds_like_the_reference_across_chunks()
    {
        using var dir = new TempDirectory();
        var path = WriteBackbone(dir, out var weights);
        using var backbone = new OnnxBackbone(path, new OnnxBackboneOptions { MaxChunkSize = 64 });

        Assert.Equal("input", backbone.InputName);
        Assert.Equal("output", backbone.OutputName);
        Assert.Equal([-1L, 8L], backbone.InputShape);
        Assert.Equal([-1L, 16L], backbone.OutputShape);
        Assert.Equal(8, backbone.InputSize);
        Assert.Equal(16, backbone.EmbeddingSize);
        Assert.Equal(64, backbone.ChunkSize);

        // 1000 = 15 full chunks of 64 + a partial one of 40.
        const int batch = 1000;
        var x = RandomInputs(batch * 8, seed: 1);
        var embeddings = backbone.Embed(x, batch);
        AssertClose(ReferencePredict(BackboneSpec, weights, x, batch), embeddings, Tolerance, "chunked embeddings vs reference");

        using var oneChunk = new OnnxBackbone(path, new OnnxBackboneOptions { MaxChunkSize = 4096 });
        Assert.Equal(embeddings, oneChunk.Embed(x, batch));
        Assert.Empty(backbone.Embed([], 0));
    }

    [Fact]
    public void Fixed_batch_model_is_fed_padded_chunks()
    {
        using var dir = new TempDirectory();
        WriteBackbone(dir, out var weights);
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(dir.File("backbone.onnx")));
        model.Graph.Input[0].Type.TensorType.Shape.Dim[0] = new TensorShapeProto.Types.Dimension { DimValue = 4 };
        model.Graph.Output[0].Type.TensorType.Shape.Dim[0] = new TensorShapeProto.Types.Dimension { DimValue = 4 };
        var path = dir.File("fixed.onnx");
        File.WriteAllBytes(path, model.ToByteArray());

        using var backbone = new OnnxBackbone(path);
        Assert.Equal(4, backbone.ChunkSize);
        const int batch = 10; // 4 + 4 + 2 padded to 4
        var x = RandomInputs(batch * 8, seed: 2);
        AssertClose(ReferencePredict(BackboneSpec, weights, x, batch), backbone.Embed(x, batch), Tolerance, "fixed-batch embeddings");
    }

    [Fact]
    public void Wrong_input_width_says_what_was_expected()
    {
        using var dir = new TempDirectory();
        using var backbone = new OnnxBackbone(WriteBackbone(dir, out _));
        var ex = Assert.Throws<ArgumentException>(() => backbone.Embed(new float[3 * 7], 3));
        Assert.Contains("8 floats per sample", ex.Message);
        Assert.Contains("7 per sample", ex.Message);
        Assert.Contains("backbone.onnx", ex.Message);
        Assert.Throws<ArgumentException>(() => backbone.Embed(new float[2 * 8], 2, new float[16]));
    }

    [Fact]
    public void Missing_file_names_the_file()
    {
        using var dir = new TempDirectory();
        var ex = Assert.Throws<FileNotFoundException>(() => new OnnxBackbone(dir.File("nope.onnx")));
        Assert.Contains("nope.onnx", ex.Message);
    }

    [Fact]
    public void Corrupt_or_truncated_file_names_the_file_and_what_OnnxRuntime_said()
    {
        using var dir = new TempDirectory();
        var garbage = dir.File("garbage.onnx");
        var bytes = new byte[4096];
        new Random(3).NextBytes(bytes);
        File.WriteAllBytes(garbage, bytes);
        var ex = Assert.Throws<InvalidDataException>(() => new OnnxBackbone(garbage));
        Assert.Contains("garbage.onnx", ex.Message);
        Assert.Contains("ONNX Runtime said:", ex.Message);
        Assert.NotNull(ex.InnerException);
        output.WriteLine(ex.Message);

        var whole = File.ReadAllBytes(WriteBackbone(dir, out _));
        var truncated = dir.File("truncated.onnx");
        File.WriteAllBytes(truncated, whole[..(whole.Length / 2)]);
        var ex2 = Assert.Throws<InvalidDataException>(() => new OnnxBackbone(truncated));
        Assert.Contains("truncated.onnx", ex2.Message);
        output.WriteLine(ex2.Message);
    }

    [Fact]
    public void Non_float_input_is_rejected_with_the_type_and_name()
    {
        // A valid model whose input is int64: ids → Cast(float) → output.
        var graph = new GraphProto { Name = "ints" };
        graph.Input.Add(IntInput("ids"));
        graph.Node.Add(new NodeProto { OpType = "Cast", Name = "cast", Input = { "ids" }, Output = { "output" }, Attribute = { new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (long)TensorProto.Types.DataType.Float } } });
        graph.Output.Add(FloatValue("output", 3));
        var model = new ModelProto { IrVersion = 8, Graph = graph, OpsetImport = { new OperatorSetIdProto { Domain = "", Version = 17 } } };

        using var dir = new TempDirectory();
        var path = dir.File("ints.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        var ex = Assert.Throws<InvalidDataException>(() => new OnnxBackbone(path));
        Assert.Contains("'ids'", ex.Message);
        Assert.Contains("Int64", ex.Message);
        Assert.Contains("ints.onnx", ex.Message);
    }

    private static ValueInfoProto IntInput(string name) => new()
    {
        Name = name,
        Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Int64, Shape = new TensorShapeProto { Dim = { new TensorShapeProto.Types.Dimension { DimParam = "N" }, new TensorShapeProto.Types.Dimension { DimValue = 3 } } } } },
    };

    internal static ValueInfoProto FloatValue(string name, params long[] nonBatchDims)
    {
        var shape = new TensorShapeProto { Dim = { new TensorShapeProto.Types.Dimension { DimParam = "N" } } };
        foreach (var d in nonBatchDims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } } };
    }
}
