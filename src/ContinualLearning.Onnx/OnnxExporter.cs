using ContinualLearning.Onnx.Proto;
using ContinualLearning.Tensors;
using ContinualLearning.Training;
using Google.Protobuf;
using static ContinualLearning.Onnx.Internal.OnnxProtoBuilders;

namespace ContinualLearning.Onnx;

/// <summary>
/// Writes a trained head (and optionally a frozen backbone in front of it) as a standard ONNX model, so the
/// result runs in ONNX Runtime, onnx.js, TensorRT, Netron, … without our runtime. The head becomes
/// <c>Gemm(transB=1)</c> (+ <c>Relu</c>) per Linear layer, then the loss's output transform:
/// <c>Softmax(axis=-1)</c> for <see cref="LossKind.SoftmaxCrossEntropy"/>, <c>Sigmoid</c> for
/// <see cref="LossKind.BinaryCrossEntropy"/>, nothing for <see cref="LossKind.MeanSquaredError"/>. The exported
/// model therefore outputs what <see cref="IHeadModel.Predict"/> returns.
/// </summary>
public static class OnnxExporter
{
    /// <summary>Name of the graph input of an exported head: float32 [N, inputSize].</summary>
    public const string InputName = "input";

    /// <summary>Name of the graph output: float32 [N, outputSize].</summary>
    public const string OutputName = "output";

    /// <summary>Symbolic batch dimension, so callers may run any batch size.</summary>
    public const string BatchDimension = "N";

    /// <summary>ai.onnx opset of exported heads. 17 is ONNX 1.12's opset, loaded by ONNX Runtime 1.12 and later.</summary>
    public const int OpsetVersion = 17;

    /// <summary>IR version that goes with opset 17 (ONNX 1.12).</summary>
    public const long IrVersion = 8;

    /// <summary>Written to ModelProto.producer_name.</summary>
    public const string ProducerName = "ContinualLearning";

    // Oldest ai.onnx opset a backbone may declare: Gemm with optional C broadcasting and Flatten(axis) exist from 7 on.
    private const long MinimumBackboneOpset = 7;

    /// <summary>Exports a head as ONNX model bytes.</summary>
    /// <param name="spec">The head's architecture.</param>
    /// <param name="weights">Its weights in state_dict naming ("0.weight" [out, in], "0.bias", …), e.g. from <see cref="IHeadModel.GetWeights"/>.</param>
    public static byte[] ExportHead(HeadSpec spec, IReadOnlyList<NamedTensor> weights)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(weights);
        var byName = ValidateWeights(spec, weights);

        var graph = new GraphProto { Name = "head" };
        graph.Input.Add(TensorValueInfo(InputName, TensorProto.Types.DataType.Float, [Dim(BatchDimension), Dim(spec.InputSize)]));
        AppendHead(graph, spec, byName, InputName, OutputName, prefix: "", OpsetVersion);
        graph.Output.Add(TensorValueInfo(OutputName, TensorProto.Types.DataType.Float, [Dim(BatchDimension), Dim(spec.OutputSize)]));

        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = ProducerName,
            ProducerVersion = ProducerVersionString,
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OpsetVersion });
        return model.ToByteArray();
    }

    /// <summary>Exports a head to an ONNX file (written to a temporary file first, then moved, so a reader never sees half a model).</summary>
    public static void ExportHead(HeadSpec spec, IReadOnlyList<NamedTensor> weights, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        WriteAtomically(path, ExportHead(spec, weights));
    }

    /// <summary>
    /// Appends a head after a backbone's output and returns one model: backbone input(s) → … → head → single output.
    /// The backbone's nodes, initializers, opset imports, IR version and any fields our schema subset does not
    /// know (metadata, doc strings, subgraphs, …) are kept as they are. Head names get a "head." prefix (or
    /// "head1.", … if the backbone already uses it) so they cannot clash with the backbone's.
    /// </summary>
    /// <param name="backboneModel">The backbone's ONNX bytes (e.g. backbone.onnx).</param>
    /// <param name="spec">The head; its input size must equal the backbone's embedding width.</param>
    /// <param name="weights">The head's weights in state_dict naming.</param>
    /// <param name="backboneOutput">Which backbone output feeds the head; may be omitted when the backbone has one output.</param>
    public static byte[] ExportBackboneWithHead(ReadOnlySpan<byte> backboneModel, HeadSpec spec, IReadOnlyList<NamedTensor> weights, string? backboneOutput = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(weights);
        var byName = ValidateWeights(spec, weights);

        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(backboneModel);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new InvalidDataException($"The backbone is not a valid ONNX model (protobuf parse failed: {ex.Message}). Check that the file is an .onnx model and not truncated.", ex);
        }
        var graph = model.Graph ?? throw new InvalidDataException("The backbone ONNX model has no graph.");

        var opset = model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx");
        if (opset is null)
            throw new InvalidDataException($"The backbone imports no ai.onnx opset (imports: {string.Join(", ", model.OpsetImport.Select(o => $"'{o.Domain}' v{o.Version}"))}); cannot add standard ops to it.");
        if (opset.Version < MinimumBackboneOpset)
            throw new InvalidDataException($"The backbone uses ai.onnx opset {opset.Version}; at least {MinimumBackboneOpset} is needed (re-export the backbone with opset {OpsetVersion}).");

        var feed = PickBackboneOutput(graph, backboneOutput);
        var feedType = feed.Type?.TensorType;
        if (feedType is null || feedType.ElemType != (int)TensorProto.Types.DataType.Float)
            throw new InvalidDataException($"Backbone output '{feed.Name}' must be a float32 tensor to feed the head; it is {DescribeType(feed)}.");
        var (rank, width) = ShapeOf(feedType);
        if (width is { } w && w != spec.InputSize)
            throw new ArgumentException($"The backbone's output '{feed.Name}' has {w} features per sample but the head {spec} expects {spec.InputSize}. Use a head whose first layer size is {w}.", nameof(spec));

        var prefix = UniquePrefix(graph);
        var headInput = feed.Name;
        if (rank != 2)
        {
            // Gemm needs [N, features]; Flatten(axis=1) turns e.g. [N, C, 1, 1] into that and is a no-op on 2-D.
            var flat = prefix + "flatten";
            graph.Node.Add(Node("Flatten", flat, [feed.Name], [flat], IntAttribute("axis", 1)));
            headInput = flat;
        }
        var outputName = NameFree(graph, OutputName) ? OutputName : prefix + OutputName;
        AppendHead(graph, spec, byName, headInput, outputName, prefix, opset.Version);

        // The backbone output becomes an internal value; keep its type as value_info so tools still see its shape.
        var batch = feedType.Shape is { Dim.Count: > 0 } s ? s.Dim[0].Clone() : Dim(BatchDimension);
        graph.Output.Clear();
        if (graph.ValueInfo.All(v => v.Name != feed.Name)) graph.ValueInfo.Add(feed);
        graph.Output.Add(TensorValueInfo(outputName, TensorProto.Types.DataType.Float, [batch, Dim(spec.OutputSize)]));
        return model.ToByteArray();
    }

    /// <summary>File-to-file form of <see cref="ExportBackboneWithHead(ReadOnlySpan{byte}, HeadSpec, IReadOnlyList{NamedTensor}, string?)"/>.</summary>
    public static void ExportBackboneWithHead(string backbonePath, HeadSpec spec, IReadOnlyList<NamedTensor> weights, string outputPath, string? backboneOutput = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(backbonePath);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        if (!File.Exists(backbonePath))
            throw new FileNotFoundException($"Backbone model '{backbonePath}' does not exist.", backbonePath);
        byte[] bytes;
        try
        {
            bytes = ExportBackboneWithHead(File.ReadAllBytes(backbonePath), spec, weights, backboneOutput);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"Backbone '{backbonePath}': {ex.Message}", ex);
        }
        WriteAtomically(outputPath, bytes);
    }

    private static string ProducerVersionString =>
        typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "0.0.0";

    /// <summary>Appends Gemm/Relu nodes and the output transform; initializers are named <c>{prefix}{state_dict name}</c>.</summary>
    private static void AppendHead(GraphProto graph, HeadSpec spec, Dictionary<string, NamedTensor> weights, string input, string output, string prefix, long opset)
    {
        var current = input;
        for (var l = 0; l < spec.LinearCount; l++)
        {
            var weight = weights[HeadSpec.WeightName(l)];
            var bias = weights[HeadSpec.BiasName(l)];
            var weightName = prefix + weight.Name;
            var biasName = prefix + bias.Name;
            graph.Initializer.Add(FloatTensor(weightName, weight.Shape, weight.Data));
            graph.Initializer.Add(FloatTensor(biasName, bias.Shape, bias.Data));

            var last = l == spec.LinearCount - 1;
            var gemmOut = last && spec.Loss == LossKind.MeanSquaredError ? output : $"{prefix}linear{l}";
            // Weights are [out, in] like PyTorch, so Y = X·Wᵀ + b is Gemm with transB=1: no transposed copy stored.
            graph.Node.Add(Node("Gemm", $"{prefix}gemm{l}", [current, weightName, biasName], [gemmOut],
                FloatAttribute("alpha", 1f), FloatAttribute("beta", 1f), IntAttribute("transB", 1)));
            current = gemmOut;

            if (!last && spec.HiddenActivation == Activation.Relu)
            {
                var relu = $"{prefix}relu{l}";
                graph.Node.Add(Node("Relu", relu, [current], [relu]));
                current = relu;
            }
        }

        switch (spec.Loss)
        {
            case LossKind.SoftmaxCrossEntropy:
                // axis=-1 is the class axis; opsets before 11 reject negative axes, and on [N, C] axis 1 is the same axis.
                graph.Node.Add(Node("Softmax", $"{prefix}softmax", [current], [output], IntAttribute("axis", opset >= 11 ? -1 : 1)));
                break;
            case LossKind.BinaryCrossEntropy:
                graph.Node.Add(Node("Sigmoid", $"{prefix}sigmoid", [current], [output]));
                break;
            case LossKind.MeanSquaredError:
                break; // the last Gemm already writes the output
            default:
                throw new ArgumentOutOfRangeException(nameof(spec), spec.Loss, $"Loss {spec.Loss} has no ONNX output transform.");
        }
    }

    /// <summary>Checks every parameter the spec needs is present with the right shape and finite values.</summary>
    private static Dictionary<string, NamedTensor> ValidateWeights(HeadSpec spec, IReadOnlyList<NamedTensor> weights)
    {
        var byName = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        foreach (var w in weights) byName[w.Name] = w;
        foreach (var (name, shape) in spec.Parameters())
        {
            if (!byName.TryGetValue(name, out var tensor))
                throw new ArgumentException($"Head {spec} needs weight '{name}' [{string.Join(", ", shape)}] but it is missing (given: {string.Join(", ", weights.Select(w => w.ToString()))}).", nameof(weights));
            if (!tensor.Shape.AsSpan().SequenceEqual(shape))
                throw new ArgumentException($"Weight '{name}' has shape [{string.Join(", ", tensor.Shape)}] but head {spec} needs [{string.Join(", ", shape)}].", nameof(weights));
            var bad = FirstNonFinite(tensor.Data);
            if (bad >= 0)
                throw new ArgumentException($"Weight '{name}' holds a non-finite value ({tensor.Data[bad]}) at index {bad}; refusing to export a broken model.", nameof(weights));
        }
        return byName;
    }

    private static int FirstNonFinite(float[] data)
    {
        for (var i = 0; i < data.Length; i++)
            if (!float.IsFinite(data[i])) return i;
        return -1;
    }

    private static ValueInfoProto PickBackboneOutput(GraphProto graph, string? name)
    {
        if (name is not null)
            return graph.Output.FirstOrDefault(o => o.Name == name)
                ?? throw new ArgumentException($"The backbone has no output '{name}'; its outputs are: {string.Join(", ", graph.Output.Select(o => $"'{o.Name}'"))}.", nameof(name));
        return graph.Output.Count switch
        {
            1 => graph.Output[0],
            0 => throw new InvalidDataException("The backbone graph declares no outputs."),
            _ => throw new ArgumentException($"The backbone has {graph.Output.Count} outputs ({string.Join(", ", graph.Output.Select(o => $"'{o.Name}'"))}); say which one feeds the head.", nameof(name)),
        };
    }

    /// <summary>Rank (null when unknown) and per-sample width (null when any non-batch dimension is symbolic or the shape is unknown).</summary>
    private static (int? Rank, long? Width) ShapeOf(TypeProto.Types.Tensor type)
    {
        if (type.Shape is null) return (null, null);
        var dims = type.Shape.Dim;
        if (dims.Count == 0) return (0, null);
        long width = 1;
        for (var i = 1; i < dims.Count; i++)
        {
            if (!dims[i].HasDimValue) return (dims.Count, null);
            width *= dims[i].DimValue;
        }
        return (dims.Count, width);
    }

    private static string DescribeType(ValueInfoProto value)
    {
        var t = value.Type;
        if (t is null) return "of unknown type";
        if (t.TensorType is null) return "not a tensor";
        return $"a tensor of ONNX element type {t.TensorType.ElemType} ({(TensorProto.Types.DataType)t.TensorType.ElemType})";
    }

    private static HashSet<string> UsedNames(GraphProto graph)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var v in graph.Input) names.Add(v.Name);
        foreach (var v in graph.Output) names.Add(v.Name);
        foreach (var v in graph.ValueInfo) names.Add(v.Name);
        foreach (var t in graph.Initializer) names.Add(t.Name);
        foreach (var n in graph.Node)
        {
            names.Add(n.Name);
            foreach (var i in n.Input) names.Add(i);
            foreach (var o in n.Output) names.Add(o);
        }
        return names;
    }

    private static bool NameFree(GraphProto graph, string name) => !UsedNames(graph).Contains(name);

    /// <summary>"head." unless some backbone name already starts with it; then "head1.", "head2.", …</summary>
    private static string UniquePrefix(GraphProto graph)
    {
        var names = UsedNames(graph);
        for (var i = 0; ; i++)
        {
            var prefix = i == 0 ? "head." : $"head{i}.";
            if (!names.Any(n => n.StartsWith(prefix, StringComparison.Ordinal)))
                return prefix;
        }
    }

    private static void WriteAtomically(string path, byte[] bytes)
    {
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        var temporary = full + ".tmp";
        File.WriteAllBytes(temporary, bytes);
        File.Move(temporary, full, overwrite: true);
    }
}
