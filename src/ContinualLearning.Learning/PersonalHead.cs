using ContinualLearning.Bundle;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Learning;

/// <summary>
/// The learner's side of personalisation (<see cref="LearnerOptions.PersonalLayers"/>): which tensors are personal, and
/// the champion a fleet release installs — the release's shared layers with the device's personal layers, whose output
/// rows follow the release's label space by name. Pure.
/// </summary>
internal static class PersonalHead
{
    /// <summary>The personal tensor names of <paramref name="head"/> (empty when personalisation is off).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The head has too few layers to keep one shared.</exception>
    public static IReadOnlySet<string> Names(HeadSpec head, LearnerOptions options) => PersonalLayers.TensorNames(head, options.PersonalLayers);

    /// <summary>
    /// The champion to install with <paramref name="release"/>: <paramref name="carried"/> (the release plus the device's
    /// own classes, or the release itself when null) with <paramref name="champion"/>'s personal layers put back. A class
    /// the release adds takes the release's row; a class only the device has keeps its own. Unchanged when personalisation
    /// is off.
    /// </summary>
    public static (ModelManifest Manifest, IReadOnlyList<NamedTensor> Weights)? Keep(ModelBundle release, ModelBundle champion,
        (ModelManifest Manifest, IReadOnlyList<NamedTensor> Weights)? carried, LearnerOptions options)
    {
        if (options.PersonalLayers == 0) return carried;
        var (manifest, weights) = carried ?? (release.Manifest, release.HeadWeights);
        var labels = manifest.Task.LabelNames;
        var rows = labels.Count > 0 && champion.Manifest.Task.LabelNames.Count > 0
            ? LabelSpace.IndexMap(labels, champion.Manifest.Task.LabelNames)
            : null;
        var (merged, _) = PersonalLayers.Merge(manifest.Head, weights, champion.HeadWeights, options.PersonalLayers, rows);
        return (manifest, merged);
    }
}
