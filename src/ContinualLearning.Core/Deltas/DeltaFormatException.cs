namespace ContinualLearning.Deltas;

/// <summary>
/// A delta payload was malformed, truncated, too large, or does not fit the model it claims to update.
/// The message says what was wrong, in which tensor and with which value, so an aggregator can log it and
/// reject the delta without further parsing. Decoding never throws anything else for bad input.
/// </summary>
public sealed class DeltaFormatException : Exception
{
    /// <summary>Creates the exception with the default message.</summary>
    public DeltaFormatException()
    {
    }

    /// <summary>Creates the exception with a message saying what was wrong, where, and with which value.</summary>
    public DeltaFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message saying what was wrong, and the underlying error.</summary>
    public DeltaFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Tensor the problem was found in, when it is tensor specific.</summary>
    public string? TensorName { get; init; }

    /// <summary>True when the problem is in the header's label list (<see cref="DeltaHeader.Labels"/>).</summary>
    public bool InLabels { get; init; }
}
