using System.Globalization;
using ContinualLearning.Features;
using ContinualLearning.Pipelines;

namespace ContinualLearning.Onnx;

/// <summary>
/// An audio model's input pipeline: mono PCM (int16-scale floats) → the manifest's stages → the head input. A clip
/// shorter than <see cref="AudioInputSpec.MinSamples"/> is zero-padded at the end; a longer one than
/// <see cref="AudioInputSpec.MaxSamples"/> is refused. Stages work on a tensor whose first dimension is the batch:
/// the clip starts as [1, samples]; "window" turns [1, …, frames, bins] into [windows, size, bins]; "pool" reduces
/// [windows, …] to [1, d].
/// </summary>
/// <remarks>Thread-safe: calls are serialised (each ONNX stage also locks). Owns and disposes its stage runners.</remarks>
internal sealed class AudioInputPipeline : IInputPipeline
{
    private readonly Step[] _steps;
    private readonly OnnxStageRunner[] _runners;
    private readonly Lock _gate = new();
    private bool _disposed;

    private AudioInputPipeline(AudioInputSpec audio, Step[] steps, OnnxStageRunner[] runners)
    {
        Audio = audio;
        _steps = steps;
        _runners = runners;
    }

    /// <summary>The accepted audio.</summary>
    public AudioInputSpec Audio { get; }

    public InputKind Kind => InputKind.Audio;

    public int OutputSize { get; private set; }

    /// <summary>
    /// Builds the pipeline: loads every ONNX stage (paths from <paramref name="stageFile"/>), then embeds a silent
    /// clip of <see cref="AudioInputSpec.MinSamples"/> to learn the output width, which must be <paramref name="expectedOutputSize"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">A stage model cannot be loaded, or the stages do not produce <paramref name="expectedOutputSize"/> floats.</exception>
    public static AudioInputPipeline Create(AudioInputSpec audio, IReadOnlyList<PipelineStageSpec> stages, Func<string, string> stageFile, int expectedOutputSize, int intraOpNumThreads = 1)
    {
        ArgumentNullException.ThrowIfNull(audio);
        ArgumentNullException.ThrowIfNull(stages);
        var runners = new List<OnnxStageRunner>();
        try
        {
            var steps = new Step[stages.Count];
            for (var i = 0; i < stages.Count; i++)
            {
                OnnxStageRunner? runner = null;
                if (stages[i] is OnnxStageSpec onnx)
                {
                    runner = new OnnxStageRunner(stageFile(onnx.File), intraOpNumThreads);
                    runners.Add(runner);
                }
                steps[i] = new Step(i, stages[i], runner);
            }
            var pipeline = new AudioInputPipeline(audio, steps, runners.ToArray());
            var probe = pipeline.Run(new float[audio.MinSamples]);
            if (probe.Length != expectedOutputSize)
            {
                pipeline.Dispose();
                throw new InvalidDataException(
                    $"The input stages produce {probe.Length} floats per clip but inputSchema.embeddingSize is {expectedOutputSize}; set embeddingSize to {probe.Length} (and the head's first layer to match) or fix the stages.");
            }
            pipeline.OutputSize = probe.Length;
            return pipeline;
        }
        catch
        {
            foreach (var r in runners) r.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    /// <exception cref="FeatureValidationException">An empty or over-long clip, or a non-finite sample.</exception>
    public void Embed(ReadOnlySpan<float> raw, Span<float> output)
    {
        if (output.Length < OutputSize)
            throw new ArgumentException($"The output buffer holds {output.Length} floats; the pipeline writes {OutputSize}.", nameof(output));
        if (raw.Length == 0)
            throw new FeatureValidationException("The audio clip is empty; send at least one sample of mono PCM.", null, -1, null);
        if (raw.Length > Audio.MaxSamples)
            throw new FeatureValidationException(
                $"The audio clip has {raw.Length} samples ({Audio.Seconds(raw.Length)} s at {Audio.SampleRate} Hz); this model accepts at most {Audio.MaxSamples} ({Audio.Seconds(Audio.MaxSamples)} s). Send a shorter clip.", null, -1, null);
        for (var i = 0; i < raw.Length; i++)
            if (!float.IsFinite(raw[i]))
                throw new FeatureValidationException($"Audio sample {i} is {raw[i].ToString(CultureInfo.InvariantCulture)}; PCM samples must be finite (int16 scale, −32768…32767).", null, i, raw[i]);
        Run(Padded(raw)).CopyTo(output);
    }

    /// <summary>Each stage's output shape for a clip (after padding): diagnostics and tests of frame and window counts.</summary>
    internal IReadOnlyList<long[]> TraceShapes(ReadOnlySpan<float> raw)
    {
        var shapes = new List<long[]>();
        Run(Padded(raw), shapes);
        return shapes;
    }

    // Zero-padding at the end: the first window needs MinSamples of audio.
    private float[] Padded(ReadOnlySpan<float> raw)
    {
        var clip = new float[Math.Max(raw.Length, Audio.MinSamples)];
        raw.CopyTo(clip);
        return clip;
    }

    private float[] Run(float[] clip, List<long[]>? shapes = null)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var tensor = new Tensor(clip, [1, clip.Length]);
            foreach (var step in _steps)
            {
                tensor = step.Apply(tensor);
                shapes?.Add(tensor.Shape);
            }
            if (tensor.Shape[0] != 1)
                throw new InvalidOperationException($"The input stages end with {tensor.Shape[0]} rows per clip; end them with a 'pool' stage so one clip gives one head input.");
            return tensor.Data;
        }
    }

    /// <summary>Disposes the ONNX stage runners.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var r in _runners) r.Dispose();
        }
    }

    private readonly record struct Tensor(float[] Data, long[] Shape)
    {
        public int Rows => checked((int)Shape[0]);

        public int ItemSize => Data.Length / Rows;
    }

    private sealed class Step(int index, PipelineStageSpec spec, OnnxStageRunner? runner)
    {
        public Tensor Apply(Tensor x) => spec switch
        {
            OnnxStageSpec => Onnx(x),
            AffineStageSpec a => Affine(x, a),
            WindowStageSpec w => Window(x, w),
            PoolStageSpec p => Pool(x, p.Mode),
            StandardizeStageSpec z => Standardize(x, z),
            _ => throw new InvalidOperationException($"Stage {index} ({spec.GetType().Name}) is not supported by this runtime."),
        };

        private Tensor Onnx(Tensor x)
        {
            var (data, shape) = runner!.Run(x.Data, x.Rows);
            return new Tensor(data, shape);
        }

        private static Tensor Affine(Tensor x, AffineStageSpec a)
        {
            var d = x.Data;
            for (var i = 0; i < d.Length; i++) d[i] = d[i] * a.Scale + a.Offset;
            return x;
        }

        private Tensor Window(Tensor x, WindowStageSpec w)
        {
            // [1, 1…, frames, bins]: every dimension between the batch and the frames must be 1.
            var s = x.Shape;
            if (s.Length < 3 || s[0] != 1 || s.Skip(1).Take(s.Length - 3).Any(d => d != 1))
                throw new InvalidOperationException($"Stage {index} (window) needs [1, …, frames, bins] with singleton dimensions between; got [{string.Join(", ", s)}]. Put it after the stage that makes frames.");
            var frames = checked((int)s[^2]);
            var bins = checked((int)s[^1]);
            if (frames < w.Size)
                throw new InvalidOperationException($"Stage {index} (window) needs at least {w.Size} frames but the clip gives {frames}; raise inputSchema.audio.minSamples so the shortest (padded) clip fills one window.");
            var windows = (frames - w.Size) / w.Stride + 1;
            var size = w.Size * bins;
            var result = new float[windows * size];
            for (var k = 0; k < windows; k++)
                Array.Copy(x.Data, k * w.Stride * bins, result, k * size, size);
            return new Tensor(result, [windows, w.Size, bins]);
        }

        private Tensor Standardize(Tensor x, StandardizeStageSpec z)
        {
            var d = z.Mean.Count;
            if (x.ItemSize != d)
                throw new InvalidOperationException($"Stage {index} (standardize) has {d} means but its input rows have {x.ItemSize} floats; give one mean and std per dimension.");
            var data = x.Data;
            for (var i = 0; i < data.Length; i++) data[i] = (data[i] - z.Mean[i % d]) / z.Std[i % d];
            return x;
        }

        private static Tensor Pool(Tensor x, PoolMode mode)
        {
            var rows = x.Rows;
            var d = x.ItemSize;
            var mean = new float[d];
            var max = new float[d];
            Array.Fill(max, float.NegativeInfinity);
            var data = x.Data;
            for (var r = 0; r < rows; r++)
            {
                var row = data.AsSpan(r * d, d);
                for (var j = 0; j < d; j++)
                {
                    mean[j] += row[j];
                    if (row[j] > max[j]) max[j] = row[j];
                }
            }
            for (var j = 0; j < d; j++) mean[j] /= rows;
            return mode switch
            {
                PoolMode.Mean => new Tensor(mean, [1, d]),
                PoolMode.Max => new Tensor(max, [1, d]),
                _ => new Tensor([.. mean, .. max], [1, 2 * d]),
            };
        }
    }
}
