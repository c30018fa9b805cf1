namespace ContinualLearning.Deltas;

/// <summary>
/// The bounds and rules of <see cref="DeltaHeader.Labels"/> shared by the encoder and the decoder: at most
/// <see cref="MaxCount"/> names of at most <see cref="MaxNameBytes"/> UTF-8 bytes, none empty or blank, none twice
/// (the rules of a manifest's <c>task.labelNames</c>, plus the length bound an untrusted header needs).
/// </summary>
public static class DeltaLabels
{
    /// <summary>Most label names one delta may carry (a format bound; the aggregator's own bound on new classes is lower).</summary>
    public const int MaxCount = 1024;

    /// <summary>Longest label name in UTF-8 bytes.</summary>
    public const int MaxNameBytes = 64;

    /// <summary>Tag of the labels section after the last tensor; a payload without the section has <see cref="DeltaHeader.Labels"/> = null.</summary>
    internal const byte SectionTag = 1;

    /// <summary>What is wrong with <paramref name="labels"/>, or null when they are a valid label list.</summary>
    public static string? Problem(IReadOnlyList<string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Count == 0) return "the label list is empty; send null to keep the release's labels.";
        if (labels.Count > MaxCount) return $"{labels.Count} labels, over the limit of {MaxCount}.";
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < labels.Count; i++)
        {
            var name = labels[i];
            if (string.IsNullOrWhiteSpace(name)) return $"label {i} is empty.";
            var bytes = System.Text.Encoding.UTF8.GetByteCount(name);
            if (bytes > MaxNameBytes)
                return $"label {i} ('{Text.DisplayText.Truncate(name, 32)}') is {bytes} bytes in UTF-8, over the limit of {MaxNameBytes}.";
            if (!seen.Add(name)) return $"label {i} ('{Text.DisplayText.Truncate(name, 32)}') appears twice; names must be unique.";
        }
        return null;
    }

    internal static void Write(ref DeltaByteWriter w, IReadOnlyList<string>? labels)
    {
        if (labels is null) return;
        if (Problem(labels) is { } problem) throw new ArgumentException($"Delta header labels: {problem}", nameof(labels));
        w.WriteByte(SectionTag);
        w.WriteVarint((ulong)labels.Count);
        foreach (var name in labels) w.WriteString(name, "label");
    }

    internal static IReadOnlyList<string>? Read(ref DeltaSpanReader r)
    {
        if (r.AtEnd) return null;
        var offset = r.Position;
        var tag = r.ReadByte("section tag");
        if (tag != SectionTag)
            throw new DeltaFormatException($"Delta has unexpected bytes after the last tensor (offset {offset}): section tag {tag} is unknown (known: {SectionTag} = labels).");
        var count = r.ReadVarint("label count");
        if (count > MaxCount) throw new DeltaFormatException($"Delta header labels: {count} labels, over the limit of {MaxCount}.") { InLabels = true };
        var labels = new string[(int)count];
        for (var i = 0; i < labels.Length; i++) labels[i] = r.ReadString($"label {i}");
        if (Problem(labels) is { } problem) throw new DeltaFormatException($"Delta header labels: {problem}") { InLabels = true };
        if (!r.AtEnd)
            throw new DeltaFormatException($"Delta has {r.Remaining} unexpected bytes after its labels (offset {r.Position}).");
        return labels;
    }
}
