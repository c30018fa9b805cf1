using ContinualLearning.Bundle;
using ContinualLearning.Tensors;
using ContinualLearning.Text;
using ContinualLearning.Training;

namespace ContinualLearning.Learning;

/// <summary>Why <see cref="ContinualLearner.AddClassAsync"/> refused a class.</summary>
public enum ClassRejection
{
    /// <summary>New classes are off (<see cref="LearnerOptions.AllowNewClasses"/>).</summary>
    Disabled,
    /// <summary>The name is empty, too long, padded with spaces or holds control characters.</summary>
    InvalidName,
    /// <summary>The model already has a class of that name.</summary>
    Duplicate,
    /// <summary>The head already has <see cref="LearnerOptions.MaxClasses"/> classes.</summary>
    TooManyClasses,
    /// <summary>The model is not a softmax classifier (regression or a binary cross-entropy head).</summary>
    NotGrowable,
}

/// <summary>A class the learner would not add, with the reason (an HTTP front end maps it to a status).</summary>
public sealed class ClassRejectedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ClassRejectedException(ClassRejection reason, string message) : base(message) => Reason = reason;

    /// <summary>Creates the exception (reason <see cref="ClassRejection.InvalidName"/>).</summary>
    public ClassRejectedException() : this(ClassRejection.InvalidName, "The class was rejected.") { }

    /// <summary>Creates the exception (reason <see cref="ClassRejection.InvalidName"/>).</summary>
    public ClassRejectedException(string message) : this(ClassRejection.InvalidName, message) { }

    /// <summary>Creates the exception (reason <see cref="ClassRejection.InvalidName"/>).</summary>
    public ClassRejectedException(string message, Exception innerException) : base(message, innerException) => Reason = ClassRejection.InvalidName;

    /// <summary>Why the class was refused.</summary>
    public ClassRejection Reason { get; }
}

/// <summary>A class added on the device: its name, output row and the champion version that carries it.</summary>
public sealed record ClassAdded(string Name, int Index, string ModelVersion, IReadOnlyList<string> LabelNames);

/// <summary>
/// The label space of a class-incremental head, by name: validating a new class, growing the champion, aligning the
/// base release's rows to the champion's labels (for deltas), and composing a rebased head. Pure.
/// </summary>
internal static class LabelSpace
{
    /// <summary>The longest class name accepted on the device (names travel in every manifest and delta header).</summary>
    public const int MaxNameLength = 64;

    /// <summary>Checks a new class name against the champion's labels and the cap.</summary>
    /// <exception cref="ClassRejectedException">Why the class cannot be added.</exception>
    public static void CheckNewClass(ModelBundle champion, string name, LearnerOptions options)
    {
        if (!options.AllowNewClasses)
            throw new ClassRejectedException(ClassRejection.Disabled,
                "Adding classes on this device is off: set learning:allowNewClasses=true (LearnerOptions.AllowNewClasses) to let users teach new classes.");
        if (string.IsNullOrWhiteSpace(name) || name.Length > MaxNameLength || name.Trim().Length != name.Length || name.Any(char.IsControl))
            throw new ClassRejectedException(ClassRejection.InvalidName,
                $"Class name '{DisplayText.Truncate(name, MaxNameLength)}' is invalid: use 1–{MaxNameLength} characters without control characters or leading/trailing spaces.");
        var labels = champion.Labels;
        if (labels is null || champion.Head.Loss != LossKind.SoftmaxCrossEntropy)
            throw new ClassRejectedException(ClassRejection.NotGrowable,
                $"Model {champion.Manifest.Name} {champion.Manifest.Version} has a {champion.Head.Loss} head; only softmax classifiers grow classes " +
                "(a binary cross-entropy head has one yes/no output, a regression head has no classes). Ship a softmax release to teach new classes.");
        if (labels.TryGetIndex(name, out _))
            throw new ClassRejectedException(ClassRejection.Duplicate, $"The model already has a class '{name}'; label samples with it directly.");
        if (labels.Count >= options.MaxClasses)
            throw new ClassRejectedException(ClassRejection.TooManyClasses,
                $"The model has {labels.Count} classes, the most allowed (learning:maxClasses = {options.MaxClasses}); raise it or teach fewer classes.");
    }

    /// <summary>The champion's task and head with <paramref name="name"/> appended (see <see cref="HeadGrowth"/>).</summary>
    public static (TaskSpec Task, GrownHead Head) Grow(ModelBundle champion, string name)
    {
        var grown = HeadGrowth.AddClasses(champion.Head, champion.HeadWeights, 1);
        return (TaskSpec.Classification([.. champion.Manifest.Task.LabelNames, name]), grown);
    }

    /// <summary>
    /// <paramref name="baseBundle"/>'s head weights with its output rows in <paramref name="labels"/>' order: the base row
    /// of the same name, or zeros for a class the base lacks (its whole row is new learning). Null labels or labels
    /// equal to the base's: the base weights (copies).
    /// </summary>
    public static IReadOnlyList<NamedTensor> AlignBase(ModelBundle baseBundle, IReadOnlyList<string>? labels)
    {
        var baseLabels = baseBundle.Manifest.Task.LabelNames;
        if (labels is null || labels.SequenceEqual(baseLabels, StringComparer.Ordinal))
            return [.. baseBundle.HeadWeights.Select(t => t.Clone())];
        var rows = labels.Select(n => IndexOf(baseLabels, n)).ToArray();
        return HeadGrowth.SelectOutputRows(baseBundle.Head, baseBundle.HeadWeights, rows).Weights;
    }

    /// <summary>
    /// Checks that <paramref name="release"/> may replace a device whose base is <paramref name="baseManifest"/> and whose
    /// champion is <paramref name="champion"/>: same task kind and loss, and for a softmax classifier labels that start
    /// with the base's (the aggregator only appends classes).
    /// </summary>
    /// <exception cref="InvalidOperationException">The release changes the task.</exception>
    public static void CheckRelease(ModelManifest release, ModelManifest baseManifest, ModelManifest champion)
    {
        var sameKind = release.Task.Kind == champion.Task.Kind && release.Head.Loss == champion.Head.Loss;
        var softmax = release.Task.Kind == TaskKind.Classification && release.Head.Loss == LossKind.SoftmaxCrossEntropy;
        var compatible = sameKind && (softmax
            ? release.Task.LabelNames.Take(baseManifest.Task.LabelNames.Count).SequenceEqual(baseManifest.Task.LabelNames, StringComparer.Ordinal)
                && release.Task.LabelNames.Count >= baseManifest.Task.LabelNames.Count
            : release.Task.Equals(champion.Task) && release.Head.OutputSize == champion.Head.OutputSize);
        if (!compatible)
            throw new InvalidOperationException(
                $"Release {release.Version} has a different task or output ({release.Task.Kind}, {release.Head}) than {champion.Version} ({champion.Task.Kind}, {champion.Head}); " +
                "a device cannot rebase across tasks (a softmax release may only append classes to the base's labels). Install it as a fresh model store instead.");
    }

    /// <summary>
    /// The champion a rebase installs: the release, plus the device-local classes it lacks (champion rows appended after
    /// the release's labels, or fresh <see cref="HeadGrowth"/> rows when the release's last hidden width differs), and
    /// the map from the champion's class indices to the new ones. Null when nothing local is carried over.
    /// </summary>
    public static (ModelManifest Manifest, IReadOnlyList<NamedTensor> Weights)? CarryLocalClasses(ModelBundle release, ModelBundle champion)
    {
        if (champion.Head.Loss != LossKind.SoftmaxCrossEntropy || champion.Manifest.Task.Kind != TaskKind.Classification) return null;
        var releaseLabels = release.Manifest.Task.LabelNames;
        var local = Enumerable.Range(0, champion.Manifest.Task.LabelNames.Count)
            .Where(i => IndexOf(releaseLabels, champion.Manifest.Task.LabelNames[i]) < 0).ToArray();
        if (local.Length == 0) return null;
        var grown = release.Head.LayerSizes[^2] == champion.Head.LayerSizes[^2]
            ? HeadGrowth.AppendOutputRows(release.Head, release.HeadWeights, champion.Head, champion.HeadWeights, local)
            : HeadGrowth.AddClasses(release.Head, release.HeadWeights, local.Length);
        var task = TaskSpec.Classification([.. releaseLabels, .. local.Select(i => champion.Manifest.Task.LabelNames[i])]);
        return (release.Manifest with { Task = task, Head = grown.Spec }, grown.Weights);
    }

    /// <summary>For each of <paramref name="from"/>'s labels, its index in <paramref name="to"/> (−1 when absent).</summary>
    public static int[] IndexMap(IReadOnlyList<string> from, IReadOnlyList<string> to) => [.. from.Select(n => IndexOf(to, n))];

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (var i = 0; i < names.Count; i++)
            if (string.Equals(names[i], name, StringComparison.Ordinal)) return i;
        return -1;
    }
}
