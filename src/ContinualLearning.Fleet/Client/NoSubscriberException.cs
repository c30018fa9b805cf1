namespace ContinualLearning.Fleet.Client;

/// <summary>A publish that had to reach a subscriber was answered "no matching subscribers": it went nowhere; send it again later.</summary>
public sealed class NoSubscriberException : InvalidOperationException
{
    /// <summary>Creates the exception without a message.</summary>
    public NoSubscriberException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public NoSubscriberException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public NoSubscriberException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
