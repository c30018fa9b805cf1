using ContinualLearning.Bundle;
using ContinualLearning.Storage;

namespace ContinualLearning.Learning;

/// <summary>The learner's transient sample store: opened in the representation of the model it serves.</summary>
internal static class LearnerSampleStore
{
    /// <summary>
    /// Opens the sample store for <paramref name="bundle"/>'s head input and label set; with
    /// <paramref name="deleteExisting"/> the old database (and its WAL files) is deleted first.
    /// </summary>
    public static SampleStore Open(LearnerOptions learner, ModelBundle bundle, TimeProvider time, bool deleteExisting)
    {
        var classification = bundle.Labels is not null;
        var options = new SampleStoreOptions
        {
            DatabasePath = learner.StorePath,
            AllowPersistent = learner.AllowPersistentStore,
            DeleteOnDispose = learner.DeleteStoreOnDispose,
            FeatureCount = bundle.Head.InputSize,
            LabelKind = classification ? StoreLabelKind.Class : StoreLabelKind.Values,
            LabelCount = classification ? bundle.Labels!.Count : bundle.Head.TargetWidth,
            MaxRows = learner.MaxStoredSamples,
            Ttl = learner.SampleTtl,
            ExpirySweepInterval = learner.SampleSweepInterval,
            ReplayCapacity = learner.ReplayCapacity,
            ReplayPolicy = learner.ReplayPolicy,
            ReplaySeed = learner.Challenger.Seed,
        };
        if (deleteExisting)
        {
            var path = options.DatabasePath ?? SampleStoreOptions.DefaultDatabasePath;
            foreach (var f in new[] { path, path + "-wal", path + "-shm" })
                if (File.Exists(f)) File.Delete(f);
        }
        return new SampleStore(options, time);
    }

    /// <summary>
    /// True when <paramref name="release"/> feeds the head differently from <paramref name="old"/> (input kind, audio
    /// spec, stages, schema statistics, backbone or a stage file's content, or head input size): samples stored for
    /// the old model are then in the wrong representation.
    /// </summary>
    public static bool RepresentationChanged(ModelManifest old, ModelManifest release) =>
        !release.InputSchema.Equals(old.InputSchema)
        || release.Head.InputSize != old.Head.InputSize
        || !InputFileHashes(release).SequenceEqual(InputFileHashes(old));

    /// <summary>The hashes of the files that make the head input (backbone and stage files), by name.</summary>
    private static IEnumerable<(string, string?)> InputFileHashes(ModelManifest m) =>
        m.InputSchema.StageFiles.Append(ModelManifest.BackboneFileName).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)
            .Select(f => (f, m.Files.TryGetValue(f, out var h) ? h : null));
}
