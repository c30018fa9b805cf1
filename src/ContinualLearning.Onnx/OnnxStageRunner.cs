using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace ContinualLearning.Onnx;

/// <summary>
/// Runs one ONNX model of an input pipeline (manifest stage op "onnx") on a batch whose per-item length may vary:
/// the flat input is reshaped to the model's declared rank — batch kept, the one symbolic non-batch dimension (if
/// any) inferred from the length — and the output's shape is read from the result. The melspectrogram model
/// ([batch, samples] → [batch, 1, frames, 32]) needs this; <see cref="OnnxBackbone"/> keeps fixed dimensions.
/// </summary>
/// <remarks>
/// One float32 input, the first output is used. Every OrtValue is disposed before <see cref="Run"/> returns; calls
/// are serialised by a lock; one intra-op thread by default (devices have few cores and also train).
/// </remarks>
internal sealed class OnnxStageRunner : IDisposable
{
    private readonly Internal.OrtSession _ort;
    private readonly Lock _gate = new();
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly long[] _declared;
    private readonly int _symbolicAt;
    private readonly long _fixedProduct;
    private bool _disposed;

    public OnnxStageRunner(string modelPath, int intraOpNumThreads = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        ArgumentOutOfRangeException.ThrowIfNegative(intraOpNumThreads);
        ModelPath = modelPath;
        _ort = Internal.OrtSession.Open(modelPath, intraOpNumThreads, "Pipeline stage model", "Check the bundle's inputSchema.stages files.");
        try
        {
            (_inputNames, _declared, _symbolicAt) = ReadInput();
            _outputNames = [ReadOutput()];
        }
        catch
        {
            Dispose();
            throw;
        }
        _fixedProduct = 1;
        for (var i = 1; i < _declared.Length; i++)
            if (i != _symbolicAt) _fixedProduct *= _declared[i];
    }

    /// <summary>The model file.</summary>
    public string ModelPath { get; }

    /// <summary>The declared input shape; −1 marks a symbolic dimension.</summary>
    public IReadOnlyList<long> InputShape => Array.AsReadOnly(_declared);

    /// <summary>
    /// Runs <paramref name="batch"/> items (row-major, equal lengths) and returns the output with its shape
    /// (first dimension = batch).
    /// </summary>
    /// <exception cref="ArgumentException">The item length does not fit the model's declared fixed dimensions.</exception>
    /// <exception cref="InvalidOperationException">ONNX Runtime failed, or the output is not float32.</exception>
    public (float[] Data, long[] Shape) Run(ReadOnlyMemory<float> input, int batch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        var shape = ShapeFor(input.Length, batch);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            try
            {
                // The input OrtValue pins the caller's memory only until it is disposed (end of this block).
                using var value = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, MemoryOf(input), shape);
                using var results = _ort.Session.Run(_ort.RunOptions, _inputNames, [value], _outputNames);
                var output = results[0];
                var info = output.GetTensorTypeAndShape();
                if (info.ElementDataType != TensorElementType.Float)
                    throw new InvalidOperationException($"Pipeline stage '{ModelPath}' output '{_outputNames[0]}' is {info.ElementDataType}; only float32 is supported.");
                return (output.GetTensorDataAsSpan<float>().ToArray(), info.Shape);
            }
            catch (OnnxRuntimeException ex)
            {
                throw new InvalidOperationException($"ONNX Runtime failed running pipeline stage '{ModelPath}' on input [{string.Join(", ", shape)}]: {ex.Message}", ex);
            }
        }
    }

    /// <summary>The input shape for <paramref name="batch"/> items of <paramref name="length"/> / batch floats each.</summary>
    private long[] ShapeFor(int length, int batch)
    {
        if (length % batch != 0)
            throw new ArgumentException($"Pipeline stage '{ModelPath}': {length} floats do not split into {batch} equal items.", nameof(length));
        long item = length / batch;
        var shape = (long[])_declared.Clone();
        shape[0] = batch;
        if (_symbolicAt > 0)
        {
            if (item == 0 || item % _fixedProduct != 0)
                throw new ArgumentException(
                    $"Pipeline stage '{ModelPath}' takes input [{FormatShape(_declared)}]; an item of {item} floats is not a positive multiple of the fixed dimensions' product {_fixedProduct}. Check the stage order in inputSchema.stages.", nameof(length));
            shape[_symbolicAt] = item / _fixedProduct;
        }
        else if (item != _fixedProduct)
        {
            throw new ArgumentException(
                $"Pipeline stage '{ModelPath}' takes input [{FormatShape(_declared)}] ({_fixedProduct} floats per item); got {item}. Check the window size and the stage order in inputSchema.stages.", nameof(length));
        }
        return shape;
    }

    // ORT reads the buffer; it never writes an input, so exposing the read-only memory as writable is safe here.
    private static Memory<float> MemoryOf(ReadOnlyMemory<float> input) =>
        System.Runtime.InteropServices.MemoryMarshal.AsMemory(input);

    private (string[] Names, long[] Shape, int SymbolicAt) ReadInput()
    {
        var inputs = _ort.Session.InputMetadata;
        if (inputs.Count != 1)
            throw new InvalidDataException($"Pipeline stage '{ModelPath}' has {inputs.Count} inputs ({string.Join(", ", inputs.Keys.Select(k => $"'{k}'"))}); a stage takes exactly one float32 input.");
        var (name, meta) = inputs.First();
        if (!meta.IsTensor || meta.ElementDataType != TensorElementType.Float)
            throw new InvalidDataException($"Pipeline stage '{ModelPath}' input '{name}' is {(meta.IsTensor ? meta.ElementDataType.ToString() : meta.OnnxValueType.ToString())}; only float32 tensors are supported.");
        var dims = meta.Dimensions.Select(d => d > 0 ? (long)d : -1L).ToArray();
        if (dims.Length < 2)
            throw new InvalidDataException($"Pipeline stage '{ModelPath}' input '{name}' has rank {dims.Length}; expected a batch dimension followed by at least one more.");
        var symbolic = Enumerable.Range(1, dims.Length - 1).Where(i => dims[i] < 0).ToArray();
        if (symbolic.Length > 1)
            throw new InvalidDataException($"Pipeline stage '{ModelPath}' input '{name}' [{FormatShape(dims)}] has {symbolic.Length} symbolic non-batch dimensions; at most one can be inferred from the item length.");
        return ([name], dims, symbolic.Length == 1 ? symbolic[0] : 0);
    }

    private string ReadOutput()
    {
        var name = _ort.Session.OutputNames[0];
        var meta = _ort.Session.OutputMetadata[name];
        if (!meta.IsTensor || meta.ElementDataType != TensorElementType.Float)
            throw new InvalidDataException($"Pipeline stage '{ModelPath}' output '{name}' is {(meta.IsTensor ? meta.ElementDataType.ToString() : meta.OnnxValueType.ToString())}; only float32 tensors are supported.");
        return name;
    }

    private static string FormatShape(long[] shape) => string.Join(", ", shape.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>Releases the session and its native memory.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _ort.Dispose();
        }
    }
}
