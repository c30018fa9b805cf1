using ContinualLearning.Tensors;

namespace ContinualLearning.Deltas;

/// <summary>
/// Error feedback for compressed deltas (Seide et al. 2014; Karimireddy et al. 2019): what top-k and
/// quantisation did not send this round is kept per tensor and added to the next delta, so every update
/// is eventually delivered and the sum of what was sent tracks the sum of the true deltas.
/// One instance per device and model; not thread safe.
/// </summary>
public sealed class ErrorFeedback
{
    private readonly Dictionary<string, NamedTensor> _residuals = new(StringComparer.Ordinal);

    /// <summary>Starts with no residuals.</summary>
    public ErrorFeedback()
    {
    }

    /// <summary>Restores residuals saved with <see cref="Residuals"/> (e.g. across a daemon restart).</summary>
    public ErrorFeedback(IEnumerable<NamedTensor> residuals)
    {
        ArgumentNullException.ThrowIfNull(residuals);
        foreach (var r in residuals)
            if (!_residuals.TryAdd(r.Name, r.Clone()))
                throw new ArgumentException($"Residual tensor '{r.Name}' appears twice.", nameof(residuals));
    }

    /// <summary>Copies of the current residuals (what has not been sent yet).</summary>
    public IReadOnlyList<NamedTensor> Residuals => _residuals.Values.Select(r => r.Clone()).ToArray();

    /// <summary>L2 norm of everything not yet sent.</summary>
    public double ResidualNorm => Delta.L2Norm(_residuals.Values);

    /// <summary>Forget the residual, e.g. after a wipe-data command or when the model architecture changes.</summary>
    public void Reset() => _residuals.Clear();

    /// <summary>
    /// residual += <paramref name="delta"/>; send top-k of the residual; residual −= what was sent after
    /// quantisation (so the quantisation error is fed back too). <paramref name="delta"/> must be the
    /// increment since the previous call, not a cumulative difference.
    /// </summary>
    public IReadOnlyList<TensorDelta> Compress(IReadOnlyList<NamedTensor> delta, DeltaCompressionOptions options)
    {
        ArgumentNullException.ThrowIfNull(delta);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var result = new TensorDelta[delta.Count];
        for (var t = 0; t < delta.Count; t++)
        {
            var d = delta[t];
            if (!_residuals.TryGetValue(d.Name, out var residual))
            {
                residual = new NamedTensor(d.Name, (int[])d.Shape.Clone(), new float[d.Count]);
                _residuals.Add(d.Name, residual);
            }
            else if (!residual.Shape.AsSpan().SequenceEqual(d.Shape))
            {
                throw new ArgumentException(
                    $"Tensor '{d.Name}': shape [{string.Join(", ", d.Shape)}] differs from the residual's [{string.Join(", ", residual.Shape)}]; call Reset() after changing the architecture.",
                    nameof(delta));
            }

            var r = residual.Data;
            var dd = d.Data;
            for (var i = 0; i < r.Length; i++) r[i] += dd[i];

            var sent = DeltaCompressor.CompressTensor(d.Name, d.Shape, r, options);
            sent.AddTo(r, -1f);
            result[t] = sent;
        }
        return result;
    }
}
