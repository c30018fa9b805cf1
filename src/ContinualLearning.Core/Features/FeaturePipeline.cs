using System.Globalization;
using ContinualLearning.Bundle;

namespace ContinualLearning.Features;

/// <summary>
/// The one path from a raw sample to the model's input: validate against the input schema, then normalise
/// <c>(x − mean) / std</c> per feature. Training and serving both call it, so they cannot disagree on feature
/// order, statistics or what counts as a valid sample (training/serving skew).
/// </summary>
/// <remarks>Thread-safe and allocation-free on the success path; allocates only to build an error message.</remarks>
public sealed class FeaturePipeline
{
    private readonly string[] _names;
    private readonly float[] _mean;
    private readonly float[] _std;
    private readonly Dictionary<string, int> _indexByName;

    /// <summary>Builds the pipeline from a manifest's input schema.</summary>
    public FeaturePipeline(InputSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        var count = schema.Features.Count;
        // An audio model has no features (its stages read PCM); a feature model's manifest is refused without any.
        if (count == 0 && schema.Kind == ContinualLearning.Pipelines.InputKind.Features)
            throw new ArgumentException("The input schema has no features.", nameof(schema));
        _names = new string[count];
        _mean = new float[count];
        _std = new float[count];
        _indexByName = new Dictionary<string, int>(count, StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var f = schema.Features[i];
            if (!float.IsFinite(f.Mean) || !float.IsFinite(f.Std) || f.Std <= 0)
                throw new ArgumentException($"Feature '{f.Name}' (index {i}): mean {f.Mean} and std {f.Std} must be finite with std > 0.", nameof(schema));
            if (!_indexByName.TryAdd(f.Name, i))
                throw new ArgumentException($"Feature '{f.Name}' appears twice in the input schema.", nameof(schema));
            _names[i] = f.Name;
            _mean[i] = f.Mean;
            _std[i] = f.Std;
        }
    }

    /// <summary>Feature names in schema (input) order.</summary>
    public IReadOnlyList<string> FeatureNames => _names;

    /// <summary>Number of features per sample.</summary>
    public int Count => _names.Length;

    /// <summary>Schema index of a feature, or −1.</summary>
    public int IndexOf(string name) => _indexByName.TryGetValue(name, out var i) ? i : -1;

    /// <summary>Validates one raw sample (values in schema order) and writes its normalised form.</summary>
    /// <exception cref="FeatureValidationException">Wrong length or a non-finite value; names the feature and value.</exception>
    public void Normalize(ReadOnlySpan<float> raw, Span<float> destination)
    {
        if (raw.Length != _names.Length)
            throw new FeatureValidationException(
                $"Sample has {raw.Length} values but the model expects {_names.Length} features ({Preview()}), in that order.", null, -1, null);
        CheckDestination(destination.Length, 1, nameof(destination));
        for (var i = 0; i < raw.Length; i++)
            destination[i] = NormalizeOne(raw[i], i, sample: -1);
    }

    /// <summary>Validates and normalises <paramref name="batch"/> samples stored row-major (batch × <see cref="Count"/>).</summary>
    /// <exception cref="FeatureValidationException">Wrong length or a non-finite value; names the sample, feature and value.</exception>
    public void NormalizeBatch(ReadOnlySpan<float> raw, int batch, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        if (raw.Length != batch * _names.Length)
            throw new FeatureValidationException(
                $"Batch of {batch} samples needs {batch * _names.Length} values ({batch} × {_names.Length} features) but {raw.Length} were given.", null, -1, null);
        CheckDestination(destination.Length, batch, nameof(destination));
        for (var s = 0; s < batch; s++)
        {
            var offset = s * _names.Length;
            for (var i = 0; i < _names.Length; i++)
                destination[offset + i] = NormalizeOne(raw[offset + i], i, s);
        }
    }

    /// <summary>
    /// Validates a sample given by feature name (any order; exactly the schema's features) and writes its normalised
    /// form in schema order.
    /// </summary>
    /// <exception cref="FeatureValidationException">A missing, unknown or non-finite feature; names it.</exception>
    public void Normalize(IReadOnlyDictionary<string, float> raw, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(raw);
        CheckDestination(destination.Length, 1, nameof(destination));
        for (var i = 0; i < _names.Length; i++)
        {
            if (!raw.TryGetValue(_names[i], out var value))
                throw new FeatureValidationException(
                    $"Feature '{_names[i]}' (index {i}) is missing from the sample; the model needs all of: {Preview()}.", _names[i], i, null);
            destination[i] = NormalizeOne(value, i, sample: -1);
        }
        // Every schema name was found, so a larger dictionary means names the model does not know.
        if (raw.Count != _names.Length)
        {
            var unknown = raw.Keys.Where(k => !_indexByName.ContainsKey(k)).ToArray();
            throw new FeatureValidationException(
                $"Sample has {unknown.Length} unknown feature(s) {string.Join(", ", unknown.Take(3).Select(u => $"'{ContinualLearning.Text.DisplayText.Truncate(u, 60)}'"))}; the model's features are: {Preview()}. " +
                "A feature the model was not trained on would be silently ignored — check the producer's schema.", unknown.FirstOrDefault(), -1, null);
        }
    }

    /// <summary>Validates without normalising; returns null when valid, else the problem.</summary>
    public string? Check(ReadOnlySpan<float> raw)
    {
        if (raw.Length != _names.Length)
            return $"Sample has {raw.Length} values but the model expects {_names.Length} features.";
        for (var i = 0; i < raw.Length; i++)
            if (!float.IsFinite(raw[i]))
                return $"Feature '{_names[i]}' (index {i}) is {Format(raw[i])}; features must be finite numbers.";
        return null;
    }

    private float NormalizeOne(float x, int i, int sample)
    {
        if (!float.IsFinite(x))
            throw new FeatureValidationException(
                $"{Where(sample)}Feature '{_names[i]}' (index {i}) is {Format(x)}; features must be finite numbers. Fix or drop the sample.", _names[i], i, x);
        // Division, not multiplication by a precomputed 1/std, so results match (x - mean) / std in PyTorch/NumPy bit for bit.
        var z = (x - _mean[i]) / _std[i];
        if (!float.IsFinite(z))
            throw new FeatureValidationException(
                $"{Where(sample)}Feature '{_names[i]}' (index {i}) = {Format(x)} overflows when normalised (mean {Format(_mean[i])}, std {Format(_std[i])}); the value is out of any plausible range.", _names[i], i, x);
        return z;
    }

    private void CheckDestination(int length, int batch, string paramName)
    {
        if (length < batch * _names.Length)
            throw new ArgumentException($"Destination holds {length} floats; {batch} × {_names.Length} features are needed.", paramName);
    }

    private static string Where(int sample) => sample < 0 ? "" : $"Sample {sample}: ";

    private string Preview() =>
        _names.Length <= 12 ? string.Join(", ", _names) : string.Join(", ", _names.Take(12)) + $", … ({_names.Length} in all)";

    private static string Format(float v) => v.ToString("R", CultureInfo.InvariantCulture);
}
