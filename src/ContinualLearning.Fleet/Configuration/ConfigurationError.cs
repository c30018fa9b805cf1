namespace ContinualLearning.Fleet.Configuration;

/// <summary>One configuration problem: which key, which value, what is wrong and what to do.</summary>
/// <param name="Key">The configuration key (<c>delta:topKFraction</c>), or the flag when no key applies.</param>
/// <param name="Value">The offending value; null when it is not set.</param>
/// <param name="Problem">What is wrong, as a phrase ("is not a number").</param>
/// <param name="Fix">What to do, as a phrase ("use e.g. 0.01").</param>
public sealed record ConfigurationError(string Key, string? Value, string Problem, string Fix)
{
    /// <summary>Where the value came from (the file, an environment variable, a flag) when it is known.</summary>
    public string? Source { get; init; }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Key} = {(Value is null ? "(not set)" : $"'{Value}'")}{(Source is null ? "" : $" (from {Source})")}: {Problem}; {Fix}.";
}

/// <summary>A service's configuration is invalid; <see cref="Errors"/> lists every problem, the message one per line.</summary>
public sealed class ConfigurationException : Exception
{
    /// <summary>An exception without listed problems.</summary>
    public ConfigurationException()
        : this("Invalid configuration.")
    {
    }

    /// <summary>An exception without listed problems.</summary>
    public ConfigurationException(string message)
        : base(message)
    {
        Service = "";
        Errors = [];
    }

    /// <summary>An exception without listed problems.</summary>
    public ConfigurationException(string message, Exception innerException)
        : base(message, innerException)
    {
        Service = "";
        Errors = [];
    }

    /// <summary>Lists <paramref name="errors"/> under "Invalid <paramref name="service"/> configuration:".</summary>
    public ConfigurationException(string service, IReadOnlyList<ConfigurationError> errors)
        : base($"Invalid {service} configuration:" + string.Concat((errors ?? throw new ArgumentNullException(nameof(errors))).Select(e => Environment.NewLine + "  - " + e)))
    {
        Service = service;
        Errors = errors;
    }

    /// <summary>Which service's configuration ("device", "aggregator").</summary>
    public string Service { get; }

    /// <summary>Every problem found, in the order found.</summary>
    public IReadOnlyList<ConfigurationError> Errors { get; }
}
