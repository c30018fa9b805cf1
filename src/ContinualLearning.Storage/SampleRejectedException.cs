namespace ContinualLearning.Storage;

/// <summary>Why the store refused a sample or a label. Stable codes for telemetry and API replies.</summary>
public enum SampleRejectionReason
{
    /// <summary>The feature count differs from the configured <see cref="SampleStoreOptions.FeatureCount"/> (or is zero).</summary>
    WrongFeatureCount,
    /// <summary>More features than <see cref="SampleStoreOptions.MaxFeatureCount"/>.</summary>
    FeaturesTooLarge,
    /// <summary>A feature is NaN or ±Infinity.</summary>
    NonFiniteFeature,
    /// <summary>A class label outside 0 … LabelCount−1, or a label of the wrong kind for the store.</summary>
    UnknownLabel,
    /// <summary>A values label with the wrong number of values.</summary>
    WrongLabelWidth,
    /// <summary>A values label contains NaN or ±Infinity.</summary>
    NonFiniteLabel,
    /// <summary>A served prediction contains NaN or ±Infinity, or has more than <see cref="SampleStoreOptions.MaxPredictionCount"/> values.</summary>
    InvalidPrediction,
    /// <summary>The model version is empty or longer than <see cref="SampleStoreOptions.MaxModelVersionLength"/>.</summary>
    InvalidModelVersion,
    /// <summary>The sample id was never issued by this store (mistyped, or issued by a store whose file was since deleted).</summary>
    UnknownSampleId,
    /// <summary>The sample id was issued but the sample is gone: evicted by the bounds, swept by expiry, or already used for training.</summary>
    SampleNoLongerHeld,
    /// <summary>The sample is older than the TTL; it is deleted now.</summary>
    ExpiredSample,
    /// <summary>The sample already has a different label.</summary>
    AlreadyLabelled,
}

/// <summary>
/// A sample or label the store refused. Nothing else is lost: other samples of the same batch are still stored.
/// The message says what was wrong, with which value, and what to do.
/// </summary>
public sealed class SampleRejectedException : Exception
{
    /// <summary>A refusal for <paramref name="reason"/>; <paramref name="message"/> says what was wrong and what to do.</summary>
    public SampleRejectedException(SampleRejectionReason reason, string message, long? sampleId = null)
        : base(message)
    {
        Reason = reason;
        SampleId = sampleId;
    }

    /// <summary>A refusal without details (for serializers and tests).</summary>
    public SampleRejectedException()
        : this(SampleRejectionReason.UnknownSampleId, "Sample rejected.")
    {
    }

    /// <summary>A refusal with <paramref name="message"/> and no more specific reason.</summary>
    public SampleRejectedException(string message)
        : this(SampleRejectionReason.UnknownSampleId, message)
    {
    }

    /// <summary>A refusal caused by <paramref name="innerException"/>.</summary>
    public SampleRejectedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Why the sample or label was refused.</summary>
    public SampleRejectionReason Reason { get; }

    /// <summary>The sample id concerned, when the rejection is about an existing id.</summary>
    public long? SampleId { get; }
}

/// <summary>An existing sample database was made for a different feature width or label set than the options say.</summary>
public sealed class SampleStoreConfigurationException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public SampleStoreConfigurationException() { }

    /// <summary>Creates the exception.</summary>
    public SampleStoreConfigurationException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public SampleStoreConfigurationException(string message, Exception innerException) : base(message, innerException) { }
}
