namespace ContinualLearning.Streams;

/// <summary>One labelled example: features in schema order and a class index into <see cref="StreamSchema.Classes"/>.</summary>
public readonly record struct Sample(float[] Features, int Label);

/// <summary>Names of a stream's features and classes (class index i is <c>Classes[i]</c>).</summary>
public sealed record StreamSchema(IReadOnlyList<string> Features, IReadOnlyList<string> Classes)
{
    /// <summary>Number of features.</summary>
    public int FeatureCount => Features.Count;
    /// <summary>Number of classes.</summary>
    public int ClassCount => Classes.Count;
}

/// <summary>
/// A sequence of labelled samples in arrival order. Synthetic generators are infinite (take what
/// you need with <see cref="StreamExtensions.Limit"/>) and replay the same samples on every
/// enumeration, because they are seeded.
/// </summary>
public interface IStream : IEnumerable<Sample>
{
    /// <summary>Feature and class names.</summary>
    StreamSchema Schema { get; }
}

/// <summary>Composition helpers for streams.</summary>
public static class StreamExtensions
{
    /// <summary>The first <paramref name="count"/> samples, keeping the schema.</summary>
    public static IStream Limit(this IStream stream, long count)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return new DelegateStream(stream.Schema, () => Take(stream, count));
    }

    private static IEnumerable<Sample> Take(IStream stream, long count)
    {
        if (count == 0)
        {
            yield break;
        }
        long i = 0;
        foreach (var s in stream)
        {
            yield return s;
            if (++i == count)
            {
                yield break;
            }
        }
    }
}

/// <summary>A stream defined by a schema and an enumerator factory (each enumeration calls it afresh).</summary>
public sealed class DelegateStream(StreamSchema schema, Func<IEnumerable<Sample>> samples) : IStream
{
    /// <inheritdoc/>
    public StreamSchema Schema { get; } = schema;

    /// <inheritdoc/>
    public IEnumerator<Sample> GetEnumerator() => samples().GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
