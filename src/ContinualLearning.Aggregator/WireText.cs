using System.Collections.Frozen;
using System.Text.Json;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Aggregator.Validation;

namespace ContinualLearning.Aggregator;

/// <summary>
/// The one mapping between the aggregator's enums and the text stored in the registry, sent as metric tags and
/// written in logs: the member name in kebab case (<c>UnknownBaseVersion</c> ↔ <c>unknown-base-version</c>), the
/// same naming policy the JSON configuration uses for enums. Registry files written by earlier versions hold exactly
/// these strings, so they keep reading.
/// </summary>
public static class WireText
{
    /// <summary>The stored text of a rejection reason, e.g. <c>too-stale</c>.</summary>
    public static string ToText(this RejectionReason value) => Names<RejectionReason>.Text(value);

    /// <summary>The stored text of a decision, e.g. <c>canary-started</c>.</summary>
    public static string ToText(this DecisionKind value) => Names<DecisionKind>.Text(value);

    /// <summary>The stored text of a delta id's state, e.g. <c>aggregated</c>.</summary>
    public static string ToText(this DeltaState value) => Names<DeltaState>.Text(value);

    /// <summary>The configuration name of a strategy, e.g. <c>trimmed-mean</c>.</summary>
    public static string ToText(this StrategyKind value) => Names<StrategyKind>.Text(value);

    /// <summary>The configuration name of a server optimiser, e.g. <c>fed-adam</c>.</summary>
    public static string ToText(this Optimizers.ServerOptimizerKind value) => Names<Optimizers.ServerOptimizerKind>.Text(value);

    /// <summary>The enum member a stored text names; throws when the text is not one this build writes.</summary>
    internal static T Parse<T>(string text)
        where T : struct, Enum =>
        Names<T>.ByText.TryGetValue(text, out var value)
            ? value
            : throw new InvalidDataException($"'{text}' is not a known {typeof(T).Name} (known: {string.Join(", ", Names<T>.ByText.Keys.Order(StringComparer.Ordinal))}); the registry was written by a newer build.");

    private static class Names<T>
        where T : struct, Enum
    {
        public static readonly FrozenDictionary<T, string> ByValue =
            Enum.GetValues<T>().ToFrozenDictionary(v => v, v => JsonNamingPolicy.KebabCaseLower.ConvertName(v.ToString()));

        public static readonly FrozenDictionary<string, T> ByText =
            ByValue.ToFrozenDictionary(kv => kv.Value, kv => kv.Key, StringComparer.Ordinal);

        public static string Text(T value) =>
            ByValue.TryGetValue(value, out var text) ? text : throw new ArgumentOutOfRangeException(nameof(value), value, $"Not a defined {typeof(T).Name}.");
    }
}
