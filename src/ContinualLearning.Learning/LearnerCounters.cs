namespace ContinualLearning.Learning;

/// <summary>
/// A snapshot of <see cref="ContinualLearner.Counters"/>: monotonic counts since the learner was opened.
/// </summary>
/// <param name="Predictions">
/// Samples the champion scored: served predictions plus samples that arrived with their label (each is predicted
/// before its label is joined, for the prequential metrics).
/// </param>
/// <param name="Labels">Labels joined to a logged prediction plus samples that arrived labelled.</param>
/// <param name="TrainingRuns">Training runs that completed (promoted or not); skipped and cancelled runs are not counted.</param>
/// <param name="TrainingTime">Wall time of the completed runs, from the call to its result.</param>
/// <param name="Promotions">Challengers promoted to champion (each raised <see cref="ContinualLearner.Promoted"/>).</param>
/// <param name="DriftAlarms">Drift alarms (each raised <see cref="ContinualLearner.DriftDetected"/>).</param>
public readonly record struct LearnerCounters(
    long Predictions,
    long Labels,
    long TrainingRuns,
    TimeSpan TrainingTime,
    long Promotions,
    long DriftAlarms);

/// <summary>The learner's counters: atomic increments, so no event is counted under a lock it does not already hold.</summary>
internal sealed class LearnerCounterSet
{
    private long _served;
    private long _scored;
    private long _labels;
    private long _trainingRuns;
    private long _trainingTicks;
    private long _promotions;
    private long _driftAlarms;

    /// <summary>Predictions served by <see cref="ContinualLearner.Predict(ReadOnlySpan{float})"/> (labelled arrivals excluded).</summary>
    public long ServedPredictions => Interlocked.Read(ref _served);

    public long Labels => Interlocked.Read(ref _labels);

    public long Promotions => Interlocked.Read(ref _promotions);

    public long DriftAlarms => Interlocked.Read(ref _driftAlarms);

    public void CountServedPrediction() => Interlocked.Increment(ref _served);

    public void CountScoredSample() => Interlocked.Increment(ref _scored);

    public void CountLabel() => Interlocked.Increment(ref _labels);

    public void CountTrainingRun(TimeSpan duration)
    {
        Interlocked.Add(ref _trainingTicks, duration.Ticks);
        Interlocked.Increment(ref _trainingRuns);
    }

    public void CountPromotion() => Interlocked.Increment(ref _promotions);

    public void CountDriftAlarm() => Interlocked.Increment(ref _driftAlarms);

    public LearnerCounters Snapshot() => new(
        Interlocked.Read(ref _served) + Interlocked.Read(ref _scored),
        Interlocked.Read(ref _labels),
        Interlocked.Read(ref _trainingRuns),
        TimeSpan.FromTicks(Interlocked.Read(ref _trainingTicks)),
        Interlocked.Read(ref _promotions),
        Interlocked.Read(ref _driftAlarms));
}
