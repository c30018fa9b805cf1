using ContinualLearning.Replay;

namespace ContinualLearning.Storage;

/// <summary>
/// What the store refuses before anything reaches SQL: features, labels and served predictions that do not fit its
/// options. Each refusal is a <see cref="SampleRejectedException"/> saying which value was wrong and what to send.
/// </summary>
internal sealed class SampleValidator(SampleStoreOptions options)
{
    /// <summary>Features as the sample table takes them (<see cref="SampleStoreOptions.FeatureCount"/> wide).</summary>
    public void CheckFeatures(ReadOnlySpan<float> features, int? index) => CheckFeatures(features, index, options.FeatureCount, "FeatureCount");

    /// <summary>Features of a given width (the replay buffer has its own: training features may be embeddings).</summary>
    public void CheckFeatures(ReadOnlySpan<float> features, int? index, int? expected, string expectedWhat)
    {
        var where = index is { } i ? $"Sample {i} of the batch" : "Sample";
        if (features.Length > options.MaxFeatureCount)
            throw new SampleRejectedException(SampleRejectionReason.FeaturesTooLarge,
                $"{where} has {features.Length} features, more than MaxFeatureCount = {options.MaxFeatureCount}. Send at most {options.MaxFeatureCount} or raise {nameof(SampleStoreOptions.MaxFeatureCount)}.");
        if (features.Length == 0 || (expected is { } n && features.Length != n))
            throw new SampleRejectedException(SampleRejectionReason.WrongFeatureCount,
                expected is { } m
                    ? $"{where} has {features.Length} features; this store expects {m} ({expectedWhat}). Check the sender's input schema against the model's."
                    : $"{where} has no features; send at least one.");
        if (SampleStore.RowOverhead + features.Length * sizeof(float) > options.MaxBytes)
            throw new SampleRejectedException(SampleRejectionReason.FeaturesTooLarge,
                $"{where} needs {SampleStore.RowOverhead + features.Length * sizeof(float)} bytes, more than the whole store may hold (MaxBytes = {options.MaxBytes}).");
        var bad = FloatBlob.FirstNonFinite(features);
        if (bad >= 0)
            throw new SampleRejectedException(SampleRejectionReason.NonFiniteFeature,
                $"{where} has a non-finite feature: feature {bad} = {features[bad]}. Fix or drop missing values before sending (NaN/Infinity cannot be trained on).");
    }

    public void CheckLabel(in SampleLabel label, int? index, long? sampleId)
    {
        var where = (index, sampleId) switch
        {
            ({ } i, { } id) => $"Label {i} of the batch (sample {id})",
            ({ } i, null) => $"Sample {i} of the batch",
            (null, { } id) => $"Label for sample {id}",
            _ => "Sample",
        };
        var n = options.LabelCount;
        if (options.LabelKind == StoreLabelKind.Class)
        {
            if (label.Kind != SampleLabelKind.Class)
                throw new SampleRejectedException(SampleRejectionReason.UnknownLabel,
                    $"{where}: got {label}; this store takes class labels 0…{n - 1}. Send a class index.", sampleId);
            if ((uint)label.ClassIndex >= (uint)n)
                throw new SampleRejectedException(SampleRejectionReason.UnknownLabel,
                    $"{where}: class {label.ClassIndex} is outside 0…{n - 1} (LabelCount = {n}). Map the label to the model's label set.", sampleId);
            return;
        }
        if (label.Kind != SampleLabelKind.Values)
            throw new SampleRejectedException(SampleRejectionReason.UnknownLabel,
                $"{where}: got {label}; this store takes {n} real value(s) per label. Send values.", sampleId);
        if (label.Values.Length != n)
            throw new SampleRejectedException(SampleRejectionReason.WrongLabelWidth,
                $"{where}: the label has {label.Values.Length} values; this store expects {n} (LabelCount).", sampleId);
        var bad = FloatBlob.FirstNonFinite(label.Values);
        if (bad >= 0)
            throw new SampleRejectedException(SampleRejectionReason.NonFiniteLabel,
                $"{where}: label value {bad} = {label.Values[bad]} is not finite. Send finite numbers.", sampleId);
    }

    public void CheckPrediction(ReadOnlySpan<float> prediction, string modelVersion)
    {
        if (prediction.Length > options.MaxPredictionCount)
            throw new SampleRejectedException(SampleRejectionReason.InvalidPrediction,
                $"The served prediction has {prediction.Length} values, more than MaxPredictionCount = {options.MaxPredictionCount}.");
        var bad = FloatBlob.FirstNonFinite(prediction);
        if (bad >= 0)
            throw new SampleRejectedException(SampleRejectionReason.InvalidPrediction,
                $"The served prediction has a non-finite value: output {bad} = {prediction[bad]}. The model produced NaN/Infinity; check it before logging.");
        if (string.IsNullOrEmpty(modelVersion) || modelVersion.Length > options.MaxModelVersionLength)
            throw new SampleRejectedException(SampleRejectionReason.InvalidModelVersion,
                $"Model version '{modelVersion}' is {(string.IsNullOrEmpty(modelVersion) ? "empty" : $"{modelVersion.Length} characters long")}; give the serving model's version in 1…{options.MaxModelVersionLength} characters.");
    }
}
