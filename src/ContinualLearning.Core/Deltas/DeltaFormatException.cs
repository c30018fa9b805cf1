namespace ContinualLearning.Deltas;

/// <summary>
/// A delta payload was malformed, truncated, too large, or does not fit the model it claims to update.
/// The message says what was wrong, in which tensor and with which value, so an aggregator can log it and
/// reject the delta without further parsing. Decoding never throws anything else for bad input.
/// </summary>
public sealed class DeltaFormatException : Exception
{
    public DeltaFormatException()
    {
    }

    public DeltaFormatException(string message)
        : base(message)
    {
    }

    public DeltaFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Tensor the problem was found in, when it is tensor specific.</summary>
    public string? TensorName { get; init; }
}
