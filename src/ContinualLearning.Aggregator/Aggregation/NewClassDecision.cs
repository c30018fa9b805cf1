using System.Text.Json;
using ContinualLearning.Bundle;
using ContinualLearning.Text;

namespace ContinualLearning.Aggregator.Aggregation;

/// <summary>What a round's new classes change in the release's manifest, and how the decision is recorded.</summary>
internal static class NewClassDecision
{
    /// <summary>
    /// The child's manifest: the parent's, with the labels and output size of <paramref name="layout"/> when classes
    /// were admitted (appended after the parent's, so every existing class keeps its index).
    /// </summary>
    public static ModelManifest Manifest(ModelManifest parent, OutputLayout layout)
    {
        ArgumentNullException.ThrowIfNull(parent);
        ArgumentNullException.ThrowIfNull(layout);
        if (layout.Labels is null || layout.Labels.SequenceEqual(parent.Task.LabelNames, StringComparer.Ordinal)) return parent;
        return parent with { Task = TaskSpec.Classification(layout.Labels), Head = layout.Head };
    }

    /// <summary>The decision's reason and numbers, or null when the round met no new class.</summary>
    public static (string Reason, string NumbersJson)? Describe(IReadOnlyList<NewClass> classes, int minDevices)
    {
        ArgumentNullException.ThrowIfNull(classes);
        if (classes.Count == 0) return null;
        static string Name(NewClass c) => $"'{DisplayText.Truncate(c.Label, 64)}' ({c.Devices} device{(c.Devices == 1 ? "" : "s")})";
        var admitted = classes.Where(c => c.Admitted).Select(Name).ToArray();
        var left = classes.Where(c => !c.Admitted).Select(Name).ToArray();
        var parts = new List<string>();
        if (admitted.Length > 0) parts.Add($"admitted {string.Join(", ", admitted)}");
        if (left.Length > 0) parts.Add($"not admitted {string.Join(", ", left)}: a class enters the release when {minDevices} devices contribute it in one round");
        var numbers = classes.ToDictionary(c => (c.Admitted ? "admitted:" : "not-admitted:") + c.Label, c => (double)c.Devices, StringComparer.Ordinal);
        numbers["minDevices"] = minDevices;
        return (string.Join("; ", parts), JsonSerializer.Serialize(numbers, AggregatorJson.Default.DictionaryStringDouble));
    }
}
