namespace ContinualLearning.Drift;

/// <summary>Settings of a <see cref="FeatureDriftMonitor"/>.</summary>
public sealed record FeatureDriftOptions
{
    /// <summary>Samples collected as the reference (the distribution the champion was trained on).</summary>
    public int ReferenceSize { get; init; } = 1000;

    /// <summary>Size of the sliding window of recent samples compared with the reference.</summary>
    public int WindowSize { get; init; } = 500;

    /// <summary>Quantile bins for PSI.</summary>
    public int PsiBins { get; init; } = 10;

    /// <summary>A feature drifts when its PSI reaches this (0.25 = "significant" by convention).</summary>
    public double PsiThreshold { get; init; } = Psi.SignificantThreshold;

    /// <summary>
    /// A feature drifts when the KS p-value falls below this. Each feature is its own test, so with
    /// many features consider dividing by the feature count (Bonferroni); 0.01 keeps a handful of
    /// features from alarming on noise.
    /// </summary>
    public double KsAlpha { get; init; } = 0.01;

    /// <summary>Which tests decide "drifted": PSI, KS, or either.</summary>
    public FeatureDriftTests Tests { get; init; } = FeatureDriftTests.Either;

    internal void Validate()
    {
        static void Check(bool ok, string field, double value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(field, value, $"Feature drift option '{field}' = {value} is invalid: {rule}.");
        }
        Check(ReferenceSize >= 2, nameof(ReferenceSize), ReferenceSize, "must be >= 2");
        Check(WindowSize >= 2, nameof(WindowSize), WindowSize, "must be >= 2");
        Check(PsiBins >= 2, nameof(PsiBins), PsiBins, "must be >= 2");
        Check(PsiThreshold > 0, nameof(PsiThreshold), PsiThreshold, "must be > 0");
        Check(KsAlpha is > 0 and < 1, nameof(KsAlpha), KsAlpha, "must be in (0, 1)");
    }
}

/// <summary>Which statistics a <see cref="FeatureDriftMonitor"/> alarms on.</summary>
public enum FeatureDriftTests
{
    /// <summary>Alarm when the population stability index exceeds its threshold.</summary>
    Psi,
    /// <summary>Alarm when the Kolmogorov-Smirnov test rejects "same distribution" at the configured alpha.</summary>
    KolmogorovSmirnov,
    /// <summary>Alarm when either test does.</summary>
    Either,
}

/// <summary>Statistics of one feature at one check.</summary>
public sealed record FeatureDriftResult(int Index, string Name, double Psi, double KsD, double KsPValue, bool Drifted);

/// <summary>Outcome of <see cref="FeatureDriftMonitor.Check"/>: every feature's statistics and the ones that drifted.</summary>
public sealed record FeatureDriftReport(IReadOnlyList<FeatureDriftResult> Features)
{
    /// <summary>Features whose statistics crossed the thresholds.</summary>
    public IReadOnlyList<FeatureDriftResult> Drifted { get; } = [.. Features.Where(f => f.Drifted)];

    /// <summary>True when at least one feature drifted.</summary>
    public bool AnyDrift => Drifted.Count > 0;
}

/// <summary>
/// Watches the input distribution feature by feature: the first <see cref="FeatureDriftOptions.ReferenceSize"/>
/// samples become the reference, later samples fill a sliding window, and <see cref="Check"/> compares
/// window and reference per feature with PSI and the two-sample KS test. Label-free, so it sees covariate
/// shift before labels arrive; it cannot see a change of p(y|x) alone (use an error-stream detector for that).
/// </summary>
public sealed class FeatureDriftMonitor
{
    private readonly FeatureDriftOptions _options;
    private readonly string[] _names;
    private readonly double[][] _reference;
    private readonly double[][] _window;
    private int _referenceCount;
    private int _windowNext;
    private int _windowCount;

    /// <param name="featureNames">One name per feature, in input order (used in reports).</param>
    /// <param name="options">Window sizes and thresholds; defaults when null.</param>
    public FeatureDriftMonitor(IReadOnlyList<string> featureNames, FeatureDriftOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(featureNames);
        if (featureNames.Count == 0)
        {
            throw new ArgumentException("A feature drift monitor needs at least one feature name.", nameof(featureNames));
        }
        _options = options ?? new FeatureDriftOptions();
        _options.Validate();
        _names = [.. featureNames];
        _reference = [.. _names.Select(_ => new double[_options.ReferenceSize])];
        _window = [.. _names.Select(_ => new double[_options.WindowSize])];
    }

    /// <summary>Number of features per sample.</summary>
    public int FeatureCount => _names.Length;

    /// <summary>True once the reference is full (later samples go to the sliding window).</summary>
    public bool HasReference => _referenceCount == _options.ReferenceSize;

    /// <summary>True when both the reference and the sliding window are full, so <see cref="Check"/> can run.</summary>
    public bool IsReady => HasReference && _windowCount == _options.WindowSize;

    /// <summary>Adds one sample (reference first, then the sliding window).</summary>
    public void Add(ReadOnlySpan<float> features)
    {
        if (features.Length != _names.Length)
        {
            throw new ArgumentException($"Sample has {features.Length} features but the monitor was built for {_names.Length} ({string.Join(", ", _names)}).", nameof(features));
        }
        if (!HasReference)
        {
            for (var f = 0; f < features.Length; f++)
            {
                _reference[f][_referenceCount] = features[f];
            }
            _referenceCount++;
            return;
        }
        for (var f = 0; f < features.Length; f++)
        {
            _window[f][_windowNext] = features[f];
        }
        _windowNext = (_windowNext + 1) % _options.WindowSize;
        _windowCount = Math.Min(_windowCount + 1, _options.WindowSize);
    }

    /// <summary>Compares the sliding window with the reference. Throws when not <see cref="IsReady"/>.</summary>
    public FeatureDriftReport Check()
    {
        if (!IsReady)
        {
            throw new InvalidOperationException(
                $"Feature drift check needs a full reference ({_referenceCount}/{_options.ReferenceSize}) and a full window ({_windowCount}/{_options.WindowSize}); add more samples or check IsReady first.");
        }
        var results = new FeatureDriftResult[_names.Length];
        for (var f = 0; f < _names.Length; f++)
        {
            var psi = Psi.Compute(_reference[f], _window[f], _options.PsiBins);
            var ks = KolmogorovSmirnov.Test(_reference[f], _window[f]);
            var psiDrift = psi >= _options.PsiThreshold;
            var ksDrift = ks.PValue < _options.KsAlpha;
            var drifted = _options.Tests switch
            {
                FeatureDriftTests.Psi => psiDrift,
                FeatureDriftTests.KolmogorovSmirnov => ksDrift,
                _ => psiDrift || ksDrift,
            };
            results[f] = new FeatureDriftResult(f, _names[f], psi, ks.D, ks.PValue, drifted);
        }
        return new FeatureDriftReport(results);
    }

    /// <summary>Makes the current window the new reference (after a retrain has adopted the new distribution) and empties the window.</summary>
    public void Rebase()
    {
        if (!IsReady)
        {
            throw new InvalidOperationException("Rebase needs a full sliding window; add more samples first.");
        }
        for (var f = 0; f < _names.Length; f++)
        {
            // Window and reference may differ in size: take evenly spaced window entries, oldest first.
            for (var i = 0; i < _options.ReferenceSize; i++)
            {
                var pos = (_windowNext + (int)((long)i * _options.WindowSize / _options.ReferenceSize)) % _options.WindowSize;
                _reference[f][i] = _window[f][pos];
            }
        }
        _windowCount = 0;
        _windowNext = 0;
    }

    /// <summary>Forgets the reference and the window.</summary>
    public void Reset()
    {
        _referenceCount = 0;
        _windowCount = 0;
        _windowNext = 0;
    }
}
