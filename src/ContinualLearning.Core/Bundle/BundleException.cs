namespace ContinualLearning.Bundle;

/// <summary>
/// A model bundle (or one of its files) is missing, malformed or inconsistent. The message names the file,
/// the field (JSON path or tensor name) and the offending value, and says what to do.
/// </summary>
public sealed class BundleException : Exception
{
    /// <summary>Creates the exception with the default message.</summary>
    public BundleException()
    {
    }

    /// <summary>Creates the exception with a message naming the file, field and value.</summary>
    public BundleException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message naming the file, field and value, and the underlying error.</summary>
    public BundleException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for <paramref name="field"/> of <paramref name="file"/>; the message is prefixed with both.</summary>
    public BundleException(string file, string? field, string message, Exception? innerException = null)
        : base(Compose(file, field, message), innerException)
    {
        File = file;
        Field = field;
    }

    /// <summary>The file at fault (a bundle file name such as "manifest.json", or a full path).</summary>
    public string? File { get; }

    /// <summary>The field at fault: a JSON path ("head.layerSizes[1]"), a tensor name ("0.weight"), or null for the whole file.</summary>
    public string? Field { get; }

    private static string Compose(string file, string? field, string message) =>
        field is null ? $"{file}: {message}" : $"{file}: '{field}': {message}";
}
