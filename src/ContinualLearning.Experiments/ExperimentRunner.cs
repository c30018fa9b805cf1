using System.Diagnostics;
using ContinualLearning.Evaluation;

namespace ContinualLearning.Experiments;

/// <summary>A model in an experiment: a strategy or a naive baseline.</summary>
public sealed record ExperimentEntry(string Name, IOnlineClassifier Model, bool IsBaseline = false);

/// <summary>Settings of <see cref="ExperimentRunner.Run"/>.</summary>
public sealed record RunnerOptions
{
    /// <summary>Window of the accuracy-over-time series and of the adaptation delay (W).</summary>
    public int Window { get; init; } = 500;

    /// <summary>Record a series point every this many samples (0 = about 200 points over the run).</summary>
    public int RecordEvery { get; init; }

    /// <summary>τ of the adaptation delay.</summary>
    public double RecoveryTolerance { get; init; } = 0.02;
}

/// <summary>What one model scored.</summary>
/// <param name="Name">Strategy or baseline name.</param>
/// <param name="IsBaseline">True for the naive baselines.</param>
/// <param name="Correct">Correct prequential predictions.</param>
/// <param name="Samples">Predictions scored.</param>
/// <param name="HeldOutBefore">Accuracy on the held-out first concept just before the first drift (null without a held-out set).</param>
/// <param name="HeldOutAfter">The same at the end of the stream.</param>
/// <param name="Adaptation">Adaptation delay after each known drift.</param>
/// <param name="SampleGradients">Samples × passes through backward; 0 for baselines.</param>
/// <param name="Updates">Model updates (retrains / fine-tunes); 0 for baselines.</param>
/// <param name="WallTime">Time spent in this model's Predict and Learn calls.</param>
public sealed record ModelResult(
    string Name,
    bool IsBaseline,
    long Correct,
    long Samples,
    double? HeldOutBefore,
    double? HeldOutAfter,
    IReadOnlyList<AdaptationResult> Adaptation,
    long SampleGradients,
    long Updates,
    TimeSpan WallTime)
{
    /// <summary>Prequential accuracy.</summary>
    public double Accuracy => Samples == 0 ? 0 : (double)Correct / Samples;

    /// <summary>HeldOutAfter / HeldOutBefore: the fraction of its earlier-concept accuracy the model kept.</summary>
    public double? Retention => HeldOutBefore is > 0 && HeldOutAfter is { } after ? after / HeldOutBefore : null;
}

/// <summary>Outcome of a run: per-model results and the windowed accuracy series (one column per model).</summary>
public sealed record ExperimentResult(
    ExperimentStream Stream,
    long Samples,
    int Window,
    IReadOnlyList<ModelResult> Models,
    IReadOnlyList<long> SeriesSamples,
    IReadOnlyList<double[]> SeriesAccuracy);

/// <summary>
/// Runs several models side by side on one stream, prequentially (each sample: every model predicts, is scored,
/// then learns). Models see the identical sample sequence. For synthetic streams the held-out first concept is
/// scored (prediction only) before the first drift and at the end.
/// </summary>
public static class ExperimentRunner
{
    /// <summary>Runs <paramref name="models"/> on <paramref name="stream"/>; <paramref name="progress"/> receives the samples done so far.</summary>
    public static ExperimentResult Run(ExperimentStream stream, IReadOnlyList<ExperimentEntry> models, RunnerOptions? options = null, IProgress<long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(models);
        options ??= new RunnerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Window, 1);
        if (models.Count == 0) throw new ArgumentException("No models to run; pick at least one strategy.", nameof(models));
        var recordEvery = options.RecordEvery > 0 ? options.RecordEvery : (int)Math.Max(1, stream.Samples / 200);
        var m = models.Count;
        var metrics = models.Select(_ => new PrequentialAccuracy(options.Window)).ToArray();
        var correct = models.Select(_ => new List<bool>()).ToArray();
        var watches = models.Select(_ => new Stopwatch()).ToArray();
        var before = new double?[m];
        var seriesSamples = new List<long>();
        var series = models.Select(_ => new List<double>()).ToArray();
        var progressEvery = Math.Max(1, stream.Samples / 500);

        long t = 0;
        foreach (var sample in stream.Stream)
        {
            if (t >= stream.Samples) break;
            if (stream.HeldOutFirstConcept is { } held && t == stream.HeldOutBeforeAt)
            {
                for (var i = 0; i < m; i++) before[i] = Forgetting.Accuracy(models[i].Model, held);
            }
            for (var i = 0; i < m; i++)
            {
                watches[i].Start();
                var yHat = models[i].Model.Predict(sample.Features);
                watches[i].Stop();
                metrics[i].Update(sample.Label, yHat);
                correct[i].Add(yHat == sample.Label);
                watches[i].Start();
                models[i].Model.Learn(sample.Features, sample.Label);
                watches[i].Stop();
            }
            t++;
            if (t % recordEvery == 0)
            {
                seriesSamples.Add(t);
                for (var i = 0; i < m; i++) series[i].Add(metrics[i].WindowedAccuracy);
            }
            if (t % progressEvery == 0) progress?.Report(t);
        }
        if (seriesSamples.Count == 0 || seriesSamples[^1] != t)
        {
            seriesSamples.Add(t);
            for (var i = 0; i < m; i++) series[i].Add(metrics[i].WindowedAccuracy);
        }
        progress?.Report(t);

        var drifts = stream.DriftPoints.Where(p => p > 0 && p < t).ToList();
        var results = new ModelResult[m];
        for (var i = 0; i < m; i++)
        {
            double? after = stream.HeldOutFirstConcept is { } held && before[i] is not null ? Forgetting.Accuracy(models[i].Model, held) : null;
            var adaptation = drifts.Count > 0 ? AdaptationDelay.Compute(correct[i], drifts, options.Window, options.RecoveryTolerance) : [];
            var compute = models[i].Model as IComputeReporting;
            results[i] = new ModelResult(models[i].Name, models[i].IsBaseline, metrics[i].Correct, metrics[i].Count, before[i], after,
                adaptation, compute?.SampleGradients ?? 0, compute?.Updates ?? 0, watches[i].Elapsed);
        }
        var columns = new double[seriesSamples.Count][];
        for (var r = 0; r < columns.Length; r++)
        {
            columns[r] = new double[m];
            for (var i = 0; i < m; i++) columns[r][i] = series[i][r];
        }
        return new ExperimentResult(stream, t, options.Window, results, seriesSamples, columns);
    }
}
