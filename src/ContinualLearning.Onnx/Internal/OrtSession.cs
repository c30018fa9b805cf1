using Microsoft.ML.OnnxRuntime;

namespace ContinualLearning.Onnx.Internal;

/// <summary>
/// An ONNX Runtime session with its options and run options, created and released together: one inter-op thread,
/// the given intra-op threads. Shared by <see cref="OnnxBackbone"/> and the pipeline's stage runners.
/// </summary>
internal sealed class OrtSession : IDisposable
{
    private readonly SessionOptions _options;

    private OrtSession(SessionOptions options, InferenceSession session)
    {
        _options = options;
        Session = session;
    }

    public InferenceSession Session { get; }

    public RunOptions RunOptions { get; } = new();

    /// <summary>Loads <paramref name="modelPath"/>; <paramref name="role"/> names the model in errors ("Backbone model").</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">ONNX Runtime cannot load it.</exception>
    public static OrtSession Open(string modelPath, int intraOpNumThreads, string role, string hint)
    {
        if (!File.Exists(modelPath))
            throw new FileNotFoundException($"{role} '{Path.GetFullPath(modelPath)}' does not exist. {hint}", modelPath);
        var options = new SessionOptions { IntraOpNumThreads = intraOpNumThreads, InterOpNumThreads = 1 };
        try
        {
            return new OrtSession(options, new InferenceSession(modelPath, options));
        }
        catch (OnnxRuntimeException ex)
        {
            options.Dispose();
            throw new InvalidDataException($"{role} '{modelPath}' could not be loaded by ONNX Runtime (is it a complete, valid .onnx file?). ONNX Runtime said: {ex.Message}", ex);
        }
    }

    public void Dispose()
    {
        Session.Dispose();
        RunOptions.Dispose();
        _options.Dispose();
    }
}
