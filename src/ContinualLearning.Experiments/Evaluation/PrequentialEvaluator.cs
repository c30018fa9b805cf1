using System.Globalization;
using ContinualLearning.Drift;
using ContinualLearning.Streams;

namespace ContinualLearning.Evaluation;

/// <summary>Settings of a prequential run.</summary>
internal sealed record PrequentialOptions
{
    /// <summary>Sliding window of the windowed accuracy and of the adaptation delay (W).</summary>
    public int WindowSize { get; init; } = 1000;

    /// <summary>α of the fading accuracy.</summary>
    public double FadingFactor { get; init; } = 0.999;

    /// <summary>Record a point of the accuracy series every this many samples (and at the end).</summary>
    public int RecordEvery { get; init; } = 1000;

    /// <summary>Known drift points (sample indices) for <see cref="PrequentialResult.Adaptation"/>.</summary>
    public IReadOnlyList<long> DriftPoints { get; init; } = [];

    /// <summary>τ of the adaptation delay.</summary>
    public double RecoveryTolerance { get; init; } = 0.02;

    /// <summary>Stop after this many samples (null = the whole stream; required for infinite generators).</summary>
    public long? MaxSamples { get; init; }

    /// <summary>Detectors fed with the error stream (1 = wrong); their alarms are recorded.</summary>
    public IReadOnlyList<IDriftDetector> Detectors { get; init; } = [];
}

/// <summary>One point of the accuracy-over-time series.</summary>
internal readonly record struct AccuracyPoint(long Samples, double Accuracy, double WindowedAccuracy, double FadingAccuracy);

/// <summary>Outcome of <see cref="PrequentialEvaluator.Run"/>.</summary>
internal sealed record PrequentialResult(
    long Samples,
    long Correct,
    IReadOnlyList<AccuracyPoint> Series,
    IReadOnlyList<AdaptationResult> Adaptation,
    IReadOnlyDictionary<string, IReadOnlyList<long>> Detections)
{
    /// <summary>Overall prequential accuracy.</summary>
    public double Accuracy => Samples == 0 ? 0 : (double)Correct / Samples;

    /// <summary>Writes the series as CSV (<c>samples,accuracy,windowed_accuracy,fading_accuracy</c>) for plotting.</summary>
    public void WriteCsv(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteLine("samples,accuracy,windowed_accuracy,fading_accuracy");
        foreach (var p in Series)
        {
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{p.Samples},{p.Accuracy:F6},{p.WindowedAccuracy:F6},{p.FadingAccuracy:F6}"));
        }
    }
}

/// <summary>
/// Prequential (test-then-train) evaluation: for each sample, predict, score, then learn. Every sample
/// is test data before it is training data, so no hold-out set is needed and the score reflects how
/// the model does on a drifting stream as it adapts.
/// </summary>
internal static class PrequentialEvaluator
{
    /// <summary>Runs <paramref name="model"/> over <paramref name="stream"/> in order.</summary>
    public static PrequentialResult Run(IEnumerable<Sample> stream, IOnlineClassifier model, PrequentialOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(model);
        options ??= new PrequentialOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.RecordEvery, 1);
        var metric = new PrequentialAccuracy(options.WindowSize, options.FadingFactor);
        var series = new List<AccuracyPoint>();
        // Per-sample correctness is only needed for the adaptation delay.
        var correctness = options.DriftPoints.Count > 0 ? new List<bool>() : null;
        var duplicate = options.Detectors.GroupBy(d => d.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"Two detectors are named '{duplicate.Key}'; detections are reported by name, so give each a distinct configuration.", nameof(options));
        }
        var detections = options.Detectors.ToDictionary(d => d.Name, _ => new List<long>());

        long t = 0;
        foreach (var s in stream)
        {
            if (options.MaxSamples is { } max && t >= max)
            {
                break;
            }
            var yHat = model.Predict(s.Features);
            metric.Update(s.Label, yHat);
            correctness?.Add(yHat == s.Label);
            foreach (var d in options.Detectors)
            {
                d.Update(yHat == s.Label ? 0 : 1);
                if (d.DriftDetected)
                {
                    detections[d.Name].Add(t);
                }
            }
            model.Learn(s.Features, s.Label);
            t++;
            if (t % options.RecordEvery == 0)
            {
                series.Add(new AccuracyPoint(t, metric.Accuracy, metric.WindowedAccuracy, metric.FadingAccuracy));
            }
        }
        if (t % options.RecordEvery != 0)
        {
            series.Add(new AccuracyPoint(t, metric.Accuracy, metric.WindowedAccuracy, metric.FadingAccuracy));
        }
        var adaptation = correctness is null
            ? []
            : AdaptationDelay.Compute(correctness, options.DriftPoints, options.WindowSize, options.RecoveryTolerance);
        return new PrequentialResult(
            metric.Count,
            metric.Correct,
            series,
            adaptation,
            detections.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<long>)kv.Value));
    }
}
