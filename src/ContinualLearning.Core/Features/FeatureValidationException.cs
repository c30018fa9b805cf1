namespace ContinualLearning.Features;

/// <summary>
/// A raw sample does not fit the model's input schema (wrong count, unknown or missing feature, non-finite value).
/// The message names the feature and value; <see cref="Feature"/> and <see cref="Value"/> carry them for callers
/// that count rejects per feature.
/// </summary>
public sealed class FeatureValidationException : ArgumentException
{
    /// <summary>Creates the exception with the default message.</summary>
    public FeatureValidationException()
    {
    }

    /// <summary>Creates the exception with a message naming the feature and value.</summary>
    public FeatureValidationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message naming the feature and value, and the underlying error.</summary>
    public FeatureValidationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for <paramref name="feature"/> (schema index <paramref name="index"/>, −1 for none) with its raw value.</summary>
    public FeatureValidationException(string message, string? feature, int index, float? value)
        : base(message)
    {
        Feature = feature;
        Index = index;
        Value = value;
    }

    /// <summary>The feature at fault, or null when the problem is the sample as a whole (e.g. its length).</summary>
    public string? Feature { get; }

    /// <summary>Schema index of <see cref="Feature"/>, or −1.</summary>
    public int Index { get; } = -1;

    /// <summary>The offending raw value, when there is one.</summary>
    public float? Value { get; }
}
