using System.Runtime.InteropServices;
using ContinualLearning.Onnx.Proto;
using Google.Protobuf;

namespace ContinualLearning.Onnx.Internal;

/// <summary>Small constructors for the ONNX messages, so graph-building code reads like the graph.</summary>
internal static class OnnxProtoBuilders
{
    public static NodeProto Node(string opType, string name, IEnumerable<string> inputs, IEnumerable<string> outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    public static AttributeProto IntAttribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto FloatAttribute(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    /// <summary>A float32 initializer. Values go in raw_data (little-endian IEEE 754, as ONNX requires): compact and what exporters commonly write.</summary>
    public static TensorProto FloatTensor(string name, ReadOnlySpan<int> shape, ReadOnlySpan<float> values)
    {
        // raw_data must be little-endian; every platform .NET targets for this product is, but say so if not.
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("ONNX raw_data is little-endian; writing it from a big-endian host is not implemented.");
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        foreach (var d in shape) tensor.Dims.Add(d);
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values));
        return tensor;
    }

    /// <summary>A tensor-typed graph input/output; use <see cref="Dim(string)"/> for a symbolic (batch) dimension.</summary>
    public static ValueInfoProto TensorValueInfo(string name, TensorProto.Types.DataType elementType, IEnumerable<TensorShapeProto.Types.Dimension> dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.AddRange(dims);
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)elementType, Shape = shape } },
        };
    }

    public static TensorShapeProto.Types.Dimension Dim(long value) => new() { DimValue = value };

    public static TensorShapeProto.Types.Dimension Dim(string symbol) => new() { DimParam = symbol };
}
