using ContinualLearning.Onnx;
using ContinualLearning.Onnx.Proto;
using ContinualLearning.Tensors;
using ContinualLearning.Training;
using static ContinualLearning.UnitTests.Onnx.OnnxTestSupport;

namespace ContinualLearning.UnitTests.Onnx;

public class OnnxExporterTests
{
    private const double Tolerance = 1e-5;

    [Theory]
    [InlineData(LossKind.SoftmaxCrossEntropy, Activation.Relu)]
    [InlineData(LossKind.BinaryCrossEntropy, Activation.Relu)]
    [InlineData(LossKind.MeanSquaredError, Activation.Relu)]
    [InlineData(LossKind.SoftmaxCrossEntropy, Activation.None)]
    public void Exported_head_run_by_OnnxRuntime_matches_reference_and_managed_engine(LossKind loss, Activation activation)
    {
        var spec = new HeadSpec([8, 16, 12, 5], loss, activation);
        var weights = HeadInitializer.Initialize(spec, seed: 7);
        const int batch = 37;
        var x = RandomInputs(batch * spec.InputSize, seed: 11);

        var model = OnnxExporter.ExportHead(spec, weights);
        var ort = RunOrt(model, x, [batch, spec.InputSize]);

        AssertClose(ReferencePredict(spec, weights, x, batch), ort, Tolerance, $"ORT vs double reference ({loss})");

        using var head = new ManagedEngine().Create(spec, new TrainingOptions(), weights);
        var managed = new float[batch * spec.OutputSize];
        head.Predict(x, batch, managed);
        AssertClose(managed, ort, Tolerance, $"ORT vs ManagedEngine.Predict ({loss})");
    }

    [Fact]
    public void Exported_head_after_training_steps_matches_engine_prediction()
    {
        // Trained (non-initial) weights exercise the GetWeights → export path a device actually uses.
        var spec = new HeadSpec([6, 10, 3], LossKind.SoftmaxCrossEntropy);
        using var head = new ManagedEngine().Create(spec, new TrainingOptions { LearningRate = 0.05f }, seed: 3);
        const int batch = 16;
        var x = RandomInputs(batch * spec.InputSize, seed: 5);
        var targets = Enumerable.Range(0, batch).Select(i => (float)(i % 3)).ToArray();
        for (var step = 0; step < 20; step++) head.TrainStep(x, targets, batch);

        var ort = RunOrt(OnnxExporter.ExportHead(spec, head.GetWeights()), x, [batch, spec.InputSize]);
        var managed = new float[batch * spec.OutputSize];
        head.Predict(x, batch, managed);
        AssertClose(managed, ort, Tolerance, "ORT vs trained ManagedEngine.Predict");
    }

    [Fact]
    public void Exported_model_declares_opset_ir_dynamic_batch_and_expected_ops()
    {
        var spec = new HeadSpec([4, 8, 1], LossKind.BinaryCrossEntropy);
        var model = ModelProto.Parser.ParseFrom(OnnxExporter.ExportHead(spec, HeadInitializer.Initialize(spec, 1)));

        Assert.True(model.IrVersion >= 7, $"ir_version {model.IrVersion}");
        var opset = Assert.Single(model.OpsetImport);
        Assert.Equal("", opset.Domain);
        Assert.True(opset.Version >= 13, $"opset {opset.Version}");
        Assert.Equal(["Gemm", "Relu", "Gemm", "Sigmoid"], model.Graph.Node.Select(n => n.OpType));
        Assert.All(model.Graph.Node.Where(n => n.OpType == "Gemm"), n => Assert.Equal(1, n.Attribute.Single(a => a.Name == "transB").I));

        var input = Assert.Single(model.Graph.Input);
        Assert.Equal("input", input.Name);
        Assert.Equal("N", input.Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal(4, input.Type.TensorType.Shape.Dim[1].DimValue);
        var output = Assert.Single(model.Graph.Output);
        Assert.Equal("output", output.Name);
        Assert.Equal(1, output.Type.TensorType.Shape.Dim[1].DimValue);
        Assert.Equal(["0.weight", "0.bias", "2.weight", "2.bias"], model.Graph.Initializer.Select(t => t.Name));
    }

    [Fact]
    public void Dynamic_batch_runs_with_different_batch_sizes()
    {
        var spec = new HeadSpec([3, 4, 2], LossKind.SoftmaxCrossEntropy);
        var weights = HeadInitializer.Initialize(spec, 2);
        var model = OnnxExporter.ExportHead(spec, weights);
        foreach (var batch in new[] { 1, 2, 300 })
        {
            var x = RandomInputs(batch * 3, seed: batch);
            AssertClose(ReferencePredict(spec, weights, x, batch), RunOrt(model, x, [batch, 3]), Tolerance, $"batch {batch}");
        }
    }

    [Fact]
    public void Export_to_file_writes_a_loadable_model()
    {
        using var dir = new TempDirectory();
        var spec = new HeadSpec([5, 2], LossKind.MeanSquaredError);
        var weights = HeadInitializer.Initialize(spec, 9);
        var path = dir.File("sub/head.onnx");
        OnnxExporter.ExportHead(spec, weights, path);
        var x = RandomInputs(10, 4);
        AssertClose(ReferencePredict(spec, weights, x, 2), RunOrt(File.ReadAllBytes(path), x, [2, 5]), Tolerance, "file export");
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void Wrong_or_missing_weights_are_rejected_with_the_tensor_name()
    {
        var spec = new HeadSpec([4, 3, 2], LossKind.SoftmaxCrossEntropy);
        var weights = HeadInitializer.Initialize(spec, 1).ToList();

        var missing = Assert.Throws<ArgumentException>(() => OnnxExporter.ExportHead(spec, weights.Where(w => w.Name != "2.bias").ToList()));
        Assert.Contains("'2.bias'", missing.Message);

        var wrongShape = weights.Select(w => w.Name == "0.weight" ? new NamedTensor("0.weight", [4, 3], new float[12]) : w).ToList();
        var shape = Assert.Throws<ArgumentException>(() => OnnxExporter.ExportHead(spec, wrongShape));
        Assert.Contains("'0.weight'", shape.Message);
        Assert.Contains("[3, 4]", shape.Message);

        var nan = weights.Select(w => w.Clone()).ToList();
        nan[1].Data[2] = float.NaN;
        var nonFinite = Assert.Throws<ArgumentException>(() => OnnxExporter.ExportHead(spec, nan));
        Assert.Contains("'0.bias'", nonFinite.Message);
        Assert.Contains("index 2", nonFinite.Message);
    }
}
