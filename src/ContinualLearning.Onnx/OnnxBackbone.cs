using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace ContinualLearning.Onnx;

/// <summary>
/// A frozen feature extractor (backbone.onnx) run with ONNX Runtime: raw inputs (batch × <see cref="InputSize"/>
/// float32, row-major) in, embeddings (batch × <see cref="EmbeddingSize"/>) out. The head trains on the embeddings.
/// </summary>
/// <remarks>
/// The model must have one float32 input and a float32 output whose dimensions are fixed except the first (the
/// batch), which may be symbolic or fixed; a fixed batch of B is honoured by padding the last chunk.
/// Inputs of rank &gt; 2 (e.g. [N, 3, 32, 32]) are fed from the flattened row-major sample.
/// Large inputs are processed in chunks of at most <see cref="OnnxBackboneOptions.MaxChunkSize"/> samples through
/// two reused buffers, so a call allocates no per-sample memory. Calls are serialised by a lock (the buffers are
/// shared); use one instance per thread when throughput matters.
/// </remarks>
public sealed class OnnxBackbone : ContinualLearning.Learning.IEmbeddingExtractor
{
    private readonly Internal.OrtSession _ort;
    private readonly Lock _gate = new();
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly long[] _inputShape;
    private readonly long[] _outputShape;
    private readonly bool _fixedBatch;
    // Reused for every chunk; pinned only while an OrtValue points at them (OrtValue.Dispose unpins).
    private readonly float[] _inputBuffer;
    private readonly float[] _outputBuffer;
    private readonly OrtValue[] _inputValues = new OrtValue[1];
    private readonly OrtValue[] _outputValues = new OrtValue[1];
    private bool _disposed;

    /// <summary>Loads <paramref name="modelPath"/>; throws <see cref="FileNotFoundException"/> or <see cref="InvalidDataException"/> naming the file.</summary>
    public OnnxBackbone(string modelPath, OnnxBackboneOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        options ??= new OnnxBackboneOptions();
        options.Validate();
        ModelPath = modelPath;
        _ort = Internal.OrtSession.Open(modelPath, options.IntraOpNumThreads, "Backbone model", "Check the bundle's backbone.onnx path.");

        try
        {
            (InputName, _inputShape) = ReadInput();
            (OutputName, _outputShape) = ReadOutput(options.OutputName);
        }
        catch
        {
            Dispose();
            throw;
        }
        _inputNames = [InputName];
        _outputNames = [OutputName];
        InputSize = checked((int)Product(_inputShape));
        EmbeddingSize = checked((int)Product(_outputShape));
        _fixedBatch = _inputShape[0] > 0;
        ChunkSize = _fixedBatch ? (int)_inputShape[0] : options.MaxChunkSize;
        _inputBuffer = new float[ChunkSize * InputSize];
        _outputBuffer = new float[ChunkSize * EmbeddingSize];
    }

    /// <summary>The model file this backbone was loaded from.</summary>
    public string ModelPath { get; }

    /// <summary>Name of the model input that receives the samples.</summary>
    public string InputName { get; }

    /// <summary>Name of the model output used as embedding.</summary>
    public string OutputName { get; }

    /// <summary>The model's input dimensions; -1 marks a symbolic batch dimension.</summary>
    public IReadOnlyList<long> InputShape => Array.AsReadOnly(_inputShape);

    /// <summary>The model's output dimensions; -1 marks a symbolic batch dimension.</summary>
    public IReadOnlyList<long> OutputShape => Array.AsReadOnly(_outputShape);

    /// <summary>Floats per input sample (product of the non-batch input dimensions).</summary>
    public int InputSize { get; }

    /// <summary>Floats per embedding (product of the non-batch output dimensions); the head's input size.</summary>
    public int EmbeddingSize { get; }

    /// <summary>Samples per ONNX Runtime call.</summary>
    public int ChunkSize { get; }

    /// <summary>Embeds <paramref name="batch"/> samples into a new array (batch × <see cref="EmbeddingSize"/>).</summary>
    public float[] Embed(ReadOnlySpan<float> inputs, int batch)
    {
        var result = new float[checked(batch * EmbeddingSize)];
        Embed(inputs, batch, result);
        return result;
    }

    /// <summary>Embeds <paramref name="batch"/> samples (row-major, batch × <see cref="InputSize"/>) into <paramref name="embeddings"/>.</summary>
    public void Embed(ReadOnlySpan<float> inputs, int batch, Span<float> embeddings)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        if (inputs.Length != (long)batch * InputSize)
            throw new ArgumentException(
                $"Backbone '{ModelPath}' expects {InputSize} floats per sample (input '{InputName}' shape [{FormatShape(_inputShape)}]); " +
                $"got {inputs.Length} floats for a batch of {batch}" +
                (batch > 0 ? $" ({(double)inputs.Length / batch:0.##} per sample). Check the feature count matches the model." : "."),
                nameof(inputs));
        if (embeddings.Length < (long)batch * EmbeddingSize)
            throw new ArgumentException($"The embedding buffer holds {embeddings.Length} floats but {batch} samples × {EmbeddingSize} need {(long)batch * EmbeddingSize}.", nameof(embeddings));

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            for (var start = 0; start < batch; start += ChunkSize)
            {
                var count = Math.Min(ChunkSize, batch - start);
                RunChunk(inputs.Slice(start * InputSize, count * InputSize), count, embeddings.Slice(start * EmbeddingSize, count * EmbeddingSize));
            }
        }
    }

    private void RunChunk(ReadOnlySpan<float> inputs, int count, Span<float> embeddings)
    {
        // A model with a fixed batch B must get exactly B rows: pad with zeros and drop the extra outputs.
        var rows = _fixedBatch ? ChunkSize : count;
        inputs.CopyTo(_inputBuffer);
        if (rows > count) _inputBuffer.AsSpan(inputs.Length, (rows - count) * InputSize).Clear();
        _inputShape[0] = rows;
        _outputShape[0] = rows;
        try
        {
            // ORT copies the shape at creation, so mutating the shape arrays above is safe; the OrtValues pin the
            // buffers until disposed, which the using declarations guarantee even when Run throws.
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<float>(_inputBuffer, 0, rows * InputSize), _inputShape);
            using var output = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<float>(_outputBuffer, 0, rows * EmbeddingSize), _outputShape);
            _inputValues[0] = input;
            _outputValues[0] = output;
            _ort.Session.Run(_ort.RunOptions, _inputNames, _inputValues, _outputNames, _outputValues);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new InvalidOperationException($"ONNX Runtime failed running backbone '{ModelPath}' on {rows} samples: {ex.Message}", ex);
        }
        finally
        {
            // Don't keep disposed OrtValues reachable from fields.
            _inputValues[0] = null!;
            _outputValues[0] = null!;
            if (_fixedBatch) { _inputShape[0] = ChunkSize; _outputShape[0] = ChunkSize; }
            else { _inputShape[0] = -1; _outputShape[0] = -1; }
        }
        _outputBuffer.AsSpan(0, count * EmbeddingSize).CopyTo(embeddings);
    }

    private (string Name, long[] Shape) ReadInput()
    {
        var inputs = _ort.Session.InputMetadata;
        if (inputs.Count != 1)
            throw new InvalidDataException($"Backbone '{ModelPath}' has {inputs.Count} inputs ({string.Join(", ", inputs.Keys.Select(k => $"'{k}'"))}); a backbone must take exactly one float32 input.");
        var (name, meta) = inputs.First();
        return (name, CheckTensor("input", name, meta));
    }

    private (string Name, long[] Shape) ReadOutput(string? wanted)
    {
        var outputs = _ort.Session.OutputMetadata;
        string name;
        if (wanted is null)
            name = _ort.Session.OutputNames[0];
        else if (outputs.ContainsKey(wanted))
            name = wanted;
        else
            throw new InvalidDataException($"Backbone '{ModelPath}' has no output '{wanted}'; its outputs are {string.Join(", ", outputs.Keys.Select(k => $"'{k}'"))}.");
        return (name, CheckTensor("output", name, outputs[name]));
    }

    private long[] CheckTensor(string role, string name, NodeMetadata meta)
    {
        if (!meta.IsTensor)
            throw new InvalidDataException($"Backbone '{ModelPath}' {role} '{name}' is a {meta.OnnxValueType}, not a tensor; only float32 tensors are supported.");
        if (meta.ElementDataType != TensorElementType.Float)
            throw new InvalidDataException($"Backbone '{ModelPath}' {role} '{name}' has element type {meta.ElementDataType}; only float32 is supported. Re-export the backbone with a float32 {role} (add a Cast node inside the model if needed).");
        var dims = meta.Dimensions;
        if (dims.Length < 2)
            throw new InvalidDataException($"Backbone '{ModelPath}' {role} '{name}' has shape [{FormatShape(dims.Select(d => (long)d).ToArray())}]; expected a batch dimension followed by at least one feature dimension, e.g. [N, 8].");
        for (var i = 1; i < dims.Length; i++)
            if (dims[i] <= 0)
                throw new InvalidDataException($"Backbone '{ModelPath}' {role} '{name}' has a symbolic dimension at position {i} (shape [{FormatShape(dims.Select(d => (long)d).ToArray())}], symbols [{string.Join(", ", meta.SymbolicDimensions)}]); only the first (batch) dimension may vary.");
        return dims.Select(d => d > 0 ? (long)d : -1L).ToArray();
    }

    private static long Product(long[] shape)
    {
        long p = 1;
        for (var i = 1; i < shape.Length; i++) p *= shape[i];
        return p;
    }

    private static string FormatShape(long[] shape) => string.Join(", ", shape.Select(d => d < 0 ? "N" : d.ToString()));

    /// <summary>Releases the ONNX Runtime session and its native memory.</summary>
    public void Dispose()
    {
        // Under the lock so a concurrent Embed never runs on a disposed session.
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _ort.Dispose();
        }
    }
}
