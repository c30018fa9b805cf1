using ContinualLearning.Replay;
using ContinualLearning.Storage;
using ContinualLearning.Training;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Learning;

/// <summary>
/// One champion/challenger round: take the fresh samples, train a challenger on fresh ⊕ replay, promote and
/// checkpoint it if it beats the champion on the holdout, hand the samples to replay and record the decision.
/// The caller runs one round at a time (the learner's train gate).
/// </summary>
internal sealed class TrainingRunner
{
    private readonly LearnerOptions _options;
    private readonly ITrainingEngine _engine;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ChampionServing _serving;
    private readonly LearnerMonitor _monitor;
    private readonly LearnerCheckpoints _checkpoints;
    private volatile bool _training;

    public TrainingRunner(LearnerOptions options, ITrainingEngine engine, TimeProvider time, ILogger logger,
        ChampionServing serving, LearnerMonitor monitor, LearnerCheckpoints checkpoints)
    {
        _options = options;
        _engine = engine;
        _time = time;
        _logger = logger;
        _serving = serving;
        _monitor = monitor;
        _checkpoints = checkpoints;
    }

    /// <summary>True while a challenger trains.</summary>
    public bool IsTraining => _training;

    /// <summary>
    /// Runs a round on <paramref name="store"/>'s fresh samples; null when there are too few. Cancellation aborts
    /// cleanly: the samples go back to fresh and the champion is untouched. <paramref name="onPromoted"/> is called
    /// after a promotion was checkpointed and recorded, before the round returns.
    /// </summary>
    public async Task<TrainingRunResult?> RunAsync(SampleStore store, string reason, Func<RunScoring, IReadOnlyDictionary<string, double>?>? scorer,
        Action<PromotedEventArgs> onPromoted, CancellationToken token)
    {
        var opts = _options.Challenger;
        var fresh = store.TakeFreshBatch(opts.MaxSamples);
        var ids = fresh.Select(s => s.Id).ToArray();
        if (fresh.Count < opts.MinSamples)
        {
            store.Release(ids);
            LearnerLog.RunSkipped(_logger, reason, fresh.Count, opts.MinSamples);
            return null;
        }
        // Only for runs that happen: a trigger that fires with too few samples can repeat every check interval.
        var compact = _options.CompactHeapAroundRuns;
        if (compact) CompactHeap();
        try
        {
            return await TrainAndDecideAsync(store, fresh, ids, reason, scorer, onPromoted, token).ConfigureAwait(false);
        }
        finally
        {
            if (compact) CompactHeap();
        }
    }

    private async Task<TrainingRunResult> TrainAndDecideAsync(SampleStore store, IReadOnlyList<TrainingSample> fresh, long[] ids, string reason,
        Func<RunScoring, IReadOnlyDictionary<string, double>?>? scorer, Action<PromotedEventArgs> onPromoted, CancellationToken token)
    {
        var opts = _options.Challenger;
        var champion = _serving.Champion;
        var run = _monitor.BeginRun();
        _training = true;
        ChallengerResult result;
        int fisherSamples;
        IReadOnlyDictionary<string, double>? runMetrics;
        try
        {
            // Scored before training: the models are measured on samples none of them has trained on.
            runMetrics = scorer?.Invoke(new RunScoring(fresh, champion, _checkpoints.Base));
            IReplaySource? replay = store.Replay.Capacity > 0 ? store.Replay : null;
            (result, fisherSamples) = await Task.Run(() =>
            {
                var (penalty, samples) = opts.Mode == LearningMode.Stateful
                    ? EwcAnchor.Estimate(_engine, champion.Head, champion.TrainingOptions, champion.HeadWeights, replay,
                        _options.EwcLambda, _options.EwcSamples, HashCode.Combine(opts.Seed, (int)run, 23))
                    : (null, 0);
                // FedProx anchors at the release the delta is measured against, not at the champion the run starts from.
                if (_options.ProximalMu > 0 && opts.Mode == LearningMode.Stateful)
                    penalty = ProximalPenalty.Combine(penalty, LabelSpace.AlignBase(_checkpoints.Base, champion.Manifest.Task.LabelNames),
                        _options.ProximalMu, PersonalHead.Names(champion.Head, _options));
                return (ChallengerTrainer.Run(_engine, champion.Head, champion.TrainingOptions, champion.HeadWeights,
                    fresh, replay, opts, (int)run, penalty, token), samples);
            }, token).ConfigureAwait(false);
            token.ThrowIfCancellationRequested();
        }
        catch
        {
            // Cancelled or failed before anything was committed: the samples are still unused.
            store.Release(ids);
            LearnerLog.RunAborted(_logger, run, reason, ids.Length);
            throw;
        }
        finally
        {
            _training = false;
        }

        string? newVersion = null;
        if (result.BeatsChampion)
        {
            var promoted = _checkpoints.Promote(champion, result.Weights, _time.GetUtcNow().UtcDateTime);
            newVersion = promoted.Manifest.Version;
            _serving.Swap(promoted);
            _monitor.ChampionChanged();
            _monitor.Promoted(result.Metric == DecisionMetric.Accuracy ? result.ChallengerMetric : null);
        }

        // Each fresh sample is used once: offered to replay (which keeps a policy-chosen few), then deleted.
        if (store.Replay.Capacity > 0) store.Replay.Offer(fresh);
        store.MarkUsed(ids);

        var decision = Decision(result, fisherSamples, reason, champion.Manifest.Version, newVersion);
        _checkpoints.AppendDecision(decision);
        _monitor.RecordDecision(decision);
        LearnerLog.RunDecided(_logger, run, reason, result.ChampionMetric, result.ChallengerMetric, result.HoldoutSamples,
            newVersion is null ? "discarded" : $"promoted {newVersion}");

        if (newVersion is not null)
        {
            var baseBundle = _checkpoints.Base;
            var labels = champion.Manifest.Task.LabelNames;
            onPromoted(new PromotedEventArgs
            {
                NewVersion = newVersion,
                BaseVersion = baseBundle.Manifest.Version,
                ChampionWeights = [.. result.Weights.Select(t => t.Clone())],
                BaseWeights = LabelSpace.AlignBase(baseBundle, labels),
                LabelNames = labels,
                BaseLabelNames = baseBundle.Manifest.Task.LabelNames,
                PersonalTensors = PersonalHead.Names(champion.Head, _options),
                SamplesUsed = fresh.Count,
                Decision = decision,
                RunMetrics = runMetrics,
            });
        }
        return new TrainingRunResult(decision, ids);
    }

    // Fisher samples are backward passes too, so they count as sample-gradients (as in cl experiment).
    private PromotionDecision Decision(ChallengerResult result, int fisherSamples, string reason, string championVersion, string? newVersion) => new()
    {
        Time = _time.GetUtcNow(),
        TriggerReason = reason,
        Mode = _options.Challenger.Mode == LearningMode.Stateful ? "stateful" : "stateless",
        Metric = result.Metric,
        ChampionMetric = result.ChampionMetric,
        ChallengerMetric = result.ChallengerMetric,
        Margin = result.Margin,
        TrainSamples = result.TrainSamples,
        HoldoutSamples = result.HoldoutSamples,
        ReplayedRows = result.ReplayedRows,
        Steps = result.Steps,
        SampleGradients = result.SampleGradients + fisherSamples,
        WallTime = result.WallTime,
        Promoted = result.BeatsChampion,
        ChampionVersion = championVersion,
        NewVersion = newVersion,
    };

    // A full, compacting GC that also returns free memory to the OS (GCCollectionMode.Aggressive); see
    // LearnerOptions.CompactHeapAroundRuns for when and why.
    private static void CompactHeap() => GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
}
