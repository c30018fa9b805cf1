using ContinualLearning.Bundle;
using ContinualLearning.Training;

namespace ContinualLearning.Learning;

// The learner's model changes that stop or wait for a run: rollback, pause, wiping data, rebasing onto a fleet release
// and growing the head by a class (the serving and training halves are in ContinualLearner.cs).
public sealed partial class ContinualLearner
{
    /// <summary>
    /// Makes the previous champion the champion again (checkpointed). Returns false when there is none. The rolled-back
    /// version is forgotten, so a second rollback returns false. A run in progress finishes against its starting champion.
    /// </summary>
    public bool Rollback()
    {
        var labels = _serving.Champion.Manifest.Task.LabelNames;
        var restored = _checkpoints.Rollback();
        if (restored is null) return false;
        // Back across a class added on the device: its samples have no output row any more and are deleted.
        if (!labels.SequenceEqual(restored.Manifest.Task.LabelNames, StringComparer.Ordinal))
            WithRunStopped(() => RemapStore(labels, restored.Manifest.Task.LabelNames));
        SwapChampion(restored);
        _monitor.RolledBack();
        LearnerLog.RolledBack(_logger, restored.Manifest.Version);
        return true;
    }

    /// <summary>Stops training — an in-progress run is cancelled and its samples released; serving and labelling continue.</summary>
    public void Pause()
    {
        _paused = true;
        CancelRun();
    }

    /// <summary>Resumes training.</summary>
    public void Resume() => _paused = false;

    /// <summary>Deletes every stored sample and the replay buffer (an in-progress run is cancelled first).</summary>
    public void WipeData()
    {
        WithRunStopped(() =>
        {
            _store.Wipe();
            _monitor.SamplesWiped();
        });
        LearnerLog.Wiped(_logger);
    }

    // Cancels a running run and waits for it, so the action sees no run in progress.
    private void WithRunStopped(Action action)
    {
        CancelRun();
        _trainGate.Wait();
        try
        {
            action();
        }
        finally
        {
            _trainGate.Release();
        }
    }

    /// <summary>
    /// Installs a new global release as base and champion (the old champion becomes previous). An in-progress run is
    /// cancelled and its fresh samples are kept for the next run, which trains on the new base. When the release
    /// changes the model's input (schema statistics, backbone or head input size) the stored samples and replay buffer
    /// are in the old representation and are wiped. A softmax release may append classes to the base's labels; classes
    /// added on the device that the release lacks are kept (their rows appended after the release's) and stored samples
    /// follow their class by name.
    /// </summary>
    /// <exception cref="InvalidOperationException">The release changes the task kind or loss, or drops or reorders the base's labels.</exception>
    public async Task RebaseAsync(ModelBundle newGlobal, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(newGlobal);
        ObjectDisposedException.ThrowIf(_isDisposed, this);
        LabelSpace.CheckRelease(newGlobal.Manifest, _checkpoints.Base.Manifest, _serving.Champion.Manifest);
        CancelRun();
        await _trainGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var champion = _serving.Champion;
            var representationChanged = LearnerSampleStore.RepresentationChanged(champion.Manifest, newGlobal.Manifest);
            var carried = PersonalHead.Keep(newGlobal, champion, LabelSpace.CarryLocalClasses(newGlobal, champion), _options);
            var installed = _checkpoints.InstallBase(newGlobal, carried, _time.GetUtcNow().UtcDateTime);
            if (representationChanged)
            {
                var pipeline = _serving.CreatePipeline(installed);
                _store.Dispose();
                _store = LearnerSampleStore.Open(_options, installed, _time, deleteExisting: true);
                _serving.ReplacePipeline(pipeline);
                _monitor.InputChanged(installed);
            }
            else
            {
                RemapStore(champion.Manifest.Task.LabelNames, installed.Manifest.Task.LabelNames);
            }
            SwapChampion(installed);
            _monitor.ReleaseInstalled();
            LearnerLog.Rebased(_logger, installed.Manifest.Version, representationChanged ? " (input changed: samples and replay wiped)" : "");
        }
        finally
        {
            _trainGate.Release();
        }
    }

    /// <summary>
    /// Teaches the model a new class: the head grows one output (<see cref="HeadGrowth"/>: no prediction changes),
    /// checkpointed as a local version whose manifest lists the label; samples labelled <paramref name="name"/> then train
    /// it in the usual runs, replay (and EWC) protecting the old classes. A running run is cancelled, its samples kept.
    /// </summary>
    /// <exception cref="ClassRejectedException">Off, an invalid or duplicate name, the class cap, or a head that cannot grow.</exception>
    public async Task<ClassAdded> AddClassAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        ObjectDisposedException.ThrowIf(_isDisposed, this);
        LabelSpace.CheckNewClass(_serving.Champion, name, _options);
        CancelRun();
        await _trainGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var champion = _serving.Champion;
            LabelSpace.CheckNewClass(champion, name, _options);
            var (task, head) = LabelSpace.Grow(champion, name);
            var grown = _checkpoints.Promote(champion, head.Weights, _time.GetUtcNow().UtcDateTime, task, head.Spec);
            RemapStore(champion.Manifest.Task.LabelNames, task.LabelNames);
            SwapChampion(grown);
            LearnerLog.ClassAdded(_logger, name, task.LabelNames.Count - 1, grown.Manifest.Version, task.LabelNames.Count);
            return new ClassAdded(name, task.LabelNames.Count - 1, grown.Manifest.Version, task.LabelNames);
        }
        finally
        {
            _trainGate.Release();
        }
    }
}
