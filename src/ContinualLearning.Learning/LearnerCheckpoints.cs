using ContinualLearning.Bundle;
using ContinualLearning.Tensors;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Learning;

/// <summary>
/// The learner's side of the model store: one writer at a time over <see cref="CheckpointStore"/>, and the global
/// release (base) the champion descends from.
/// </summary>
internal sealed class LearnerCheckpoints
{
    private readonly Lock _lock = new();
    private ModelBundle _base;

    private LearnerCheckpoints(CheckpointStore store, ModelBundle baseBundle)
    {
        Store = store;
        _base = baseBundle;
    }

    public CheckpointStore Store { get; }

    /// <summary>The installed global release.</summary>
    public ModelBundle Base => Volatile.Read(ref _base);

    /// <summary>
    /// Opens the model store at <see cref="LearnerOptions.ModelStoreDirectory"/>, installing
    /// <see cref="LearnerOptions.BaseBundlePath"/> as base and champion when it is empty; returns it and the champion.
    /// </summary>
    /// <exception cref="InvalidOperationException">The model store is empty and no base bundle was given.</exception>
    public static (LearnerCheckpoints Checkpoints, ModelBundle Champion) Open(LearnerOptions options, ILogger logger)
    {
        var store = new CheckpointStore(options.ModelStoreDirectory);
        if (store.Current is null)
        {
            if (options.BaseBundlePath is null)
                throw new InvalidOperationException($"Model store '{store.Directory}' holds no model and no base bundle was given: set LearnerOptions.BaseBundlePath to a global release bundle directory.");
            var release = ModelBundle.Load(options.BaseBundlePath);
            store.InstallBase(release);
            LearnerLog.InstalledFirstRelease(logger, release.Manifest.Version, options.BaseBundlePath);
        }
        var champion = store.LoadChampion();
        return (new LearnerCheckpoints(store, store.LoadBase()), champion);
    }

    /// <summary>Checkpoints trained head weights as the next local version on top of <paramref name="champion"/>.</summary>
    public ModelBundle Promote(ModelBundle champion, IReadOnlyList<NamedTensor> weights, DateTime createdUtc)
    {
        lock (_lock)
        {
            var manifest = champion.Manifest with
            {
                Version = LocalVersion.Next(_base.Manifest.Version, Store.NextLocalNumber),
                ParentVersion = champion.Manifest.Version,
                CreatedUtc = createdUtc,
            };
            return Store.Promote(manifest, weights, champion.BackbonePath, champion.StageFiles);
        }
    }

    public void AppendDecision(PromotionDecision decision)
    {
        lock (_lock) Store.AppendDecision(decision);
    }

    /// <summary>The previous champion, now champion again; null when there is none.</summary>
    public ModelBundle? Rollback()
    {
        lock (_lock) return Store.Rollback();
    }

    /// <summary>Installs a global release as base and champion; returns it as installed.</summary>
    public ModelBundle InstallBase(ModelBundle release)
    {
        ModelBundle installed;
        lock (_lock) installed = Store.InstallBase(release);
        Volatile.Write(ref _base, installed);
        return installed;
    }

    /// <summary>The previous champion's version (without its directory prefix), or null.</summary>
    public string? PreviousVersion()
    {
        lock (_lock)
        {
            var previous = Store.Current?.Previous;
            if (previous is null) return null;
            var dash = previous.IndexOf('-', StringComparison.Ordinal);
            return dash >= 0 ? previous[(dash + 1)..] : previous;
        }
    }
}
