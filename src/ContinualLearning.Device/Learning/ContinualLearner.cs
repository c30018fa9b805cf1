using ContinualLearning.Bundle;
using ContinualLearning.Training;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Device.Learning;

/// <summary>
/// The device's continual learning loop, usable on its own as a library: serve predictions with the champion and log
/// their features ("log and wait"), join labels, watch accuracy and drift, and — when the trigger policy says so —
/// train a challenger on fresh ⊕ replay samples, promote it if it beats the champion on a recent holdout, and
/// checkpoint it crash-safely. See docs/learning.md.
/// </summary>
public sealed class ContinualLearner : IAsyncDisposable, IDisposable
{
    private ContinualLearner()
    {
        // Skeleton: members land in the next commits.
        Promoted?.Invoke(this, null!);
        DriftDetected?.Invoke(this, null!);
    }

    /// <summary>Raised (on the training thread) after a promotion was checkpointed.</summary>
    public event EventHandler<PromotedEventArgs>? Promoted;

    /// <summary>Raised (on the labelling thread) when a drift detector fires.</summary>
    public event EventHandler<DriftDetectedEventArgs>? DriftDetected;

    /// <summary>
    /// Opens the learner: loads the champion from the model store (or installs <see cref="LearnerOptions.BaseBundlePath"/>
    /// as the first global version), opens the transient sample store and replay buffer.
    /// </summary>
    public static Task<ContinualLearner> OpenAsync(LearnerOptions options, ITrainingEngine engine, TimeProvider? time = null, ILogger? logger = null, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    /// <summary>The current champion's version.</summary>
    public string ModelVersion => throw new NotImplementedException();

    /// <summary>A status snapshot.</summary>
    public LearnerStatus Status => throw new NotImplementedException();

    /// <summary>Predicts for raw features in schema order and logs the sample; send its label with <see cref="Label(long, string)"/>.</summary>
    public Prediction Predict(ReadOnlySpan<float> rawFeatures) => throw new NotImplementedException();

    /// <summary>Predicts for features given by name.</summary>
    public Prediction Predict(IReadOnlyDictionary<string, float> rawFeatures) => throw new NotImplementedException();

    /// <summary>Joins a label (by name) to a logged prediction.</summary>
    public void Label(long sampleId, string label) => throw new NotImplementedException();

    /// <summary>Joins a label (class index) to a logged prediction.</summary>
    public void Label(long sampleId, int labelIndex) => throw new NotImplementedException();

    /// <summary>Joins regression values to a logged prediction.</summary>
    public void Label(long sampleId, ReadOnlySpan<float> values) => throw new NotImplementedException();

    /// <summary>Adds a sample that arrived with its label (tested by the champion first, for the prequential metrics).</summary>
    public long AddLabelled(ReadOnlySpan<float> rawFeatures, string label) => throw new NotImplementedException();

    /// <summary>Adds a sample that arrived with its label (class index).</summary>
    public long AddLabelled(ReadOnlySpan<float> rawFeatures, int labelIndex) => throw new NotImplementedException();

    /// <summary>Checks the trigger policy and trains when it fires; null when it did not fire (or learning is paused).</summary>
    public Task<TrainingRunResult?> MaybeTrainAsync(CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>Runs a champion/challenger round now; null when there are too few fresh samples or learning is paused.</summary>
    public Task<TrainingRunResult?> TrainNowAsync(string reason, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>Makes the previous champion the champion again. Returns false when there is none.</summary>
    public bool Rollback() => throw new NotImplementedException();

    /// <summary>Stops training (serving and labelling continue).</summary>
    public void Pause() => throw new NotImplementedException();

    /// <summary>Resumes training.</summary>
    public void Resume() => throw new NotImplementedException();

    /// <summary>Deletes every stored sample and the replay buffer.</summary>
    public void WipeData() => throw new NotImplementedException();

    /// <summary>Installs a new global release as base and champion; an in-progress run is cancelled and its samples kept.</summary>
    public Task RebaseAsync(ModelBundle newGlobal, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    public ValueTask DisposeAsync() => throw new NotImplementedException();

    public void Dispose() => throw new NotImplementedException();
}
