namespace ContinualLearning.Fleet.Client;

/// <summary>A publish that had to reach a subscriber was answered "no matching subscribers": it went nowhere; send it again later.</summary>
public sealed class NoSubscriberException : InvalidOperationException
{
    public NoSubscriberException()
    {
    }

    public NoSubscriberException(string message)
        : base(message)
    {
    }

    public NoSubscriberException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
