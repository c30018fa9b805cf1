using ContinualLearning.Bundle;
using ContinualLearning.Deltas;
using ContinualLearning.Learning;
using ContinualLearning.Training;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Device.Agent;

/// <summary>
/// The device's cluster report (<see cref="ClusterReport"/>), measured before each run on the samples it is about to
/// train on: the mean loss (<see cref="HeadLoss"/>) of its own cluster's release (the learner's base), of every other
/// live cluster's head (<see cref="ClusterHeadFetcher"/>), and of its own champion (trained on older samples only).
/// All of them are scored on the same samples, so with a champion it also reports, per cluster, the standard error of
/// the mean per-sample difference (cluster loss − champion loss, <see cref="PairedLoss"/>): the aggregator weighs the
/// champion's advantage against it, so an advantage sampling noise can explain does not split the device off.
/// A head that reads another input (schema statistics, input width) or lacks one of the samples' classes cannot be
/// scored on them and is left out of the report. Each head is built for its scoring and disposed right after, so
/// native engine memory is held only while it scores.
/// </summary>
internal sealed partial class ClusterScorer(ITrainingEngine engine, Func<IReadOnlyDictionary<int, ModelBundle>> heads, ILogger logger)
{
    /// <summary>The run scorer: the report's <c>cluster.*</c> metrics, or null when no sample could be scored.</summary>
    public IReadOnlyDictionary<string, double>? Score(RunScoring run)
    {
        ArgumentNullException.ThrowIfNull(run);
        if (run.Fresh.Count == 0) return null;
        var own = ClusterNames.Parse(run.Base.Manifest.Name).Cluster;
        var perSample = new SortedDictionary<int, double[]>();
        if (Losses(run.Base, run) is { } ownLosses) perSample[own] = ownLosses;
        foreach (var (cluster, head) in heads())
        {
            if (cluster == own) continue; // the installed release is this cluster's head
            if (Losses(head, run) is { } losses) perSample[cluster] = losses;
        }
        var champion = Losses(run.Champion, run);
        var report = Report(own, perSample, champion, run.Fresh.Count);
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        report.WriteTo(metrics);
        LogScored(logger, own, perSample.Count, run.Fresh.Count);
        return metrics;
    }

    /// <summary>The report from per-sample losses on the same samples: their means, and with a champion each cluster's paired standard error.</summary>
    internal static ClusterReport Report(int own, IReadOnlyDictionary<int, double[]> clusters, double[]? champion, int samples)
    {
        var means = new SortedDictionary<int, double>();
        SortedDictionary<int, double>? errors = champion is null ? null : [];
        foreach (var (cluster, losses) in clusters)
        {
            means[cluster] = losses.Average();
            if (errors is not null && PairedLoss.StandardError(losses, champion) is { } se) errors[cluster] = se;
        }
        return new ClusterReport(own, means, champion?.Average(), samples, errors);
    }

    private double[]? Losses(ModelBundle model, RunScoring run)
    {
        var champion = run.Champion.Manifest;
        if (!model.Manifest.InputSchema.Equals(champion.InputSchema) || model.Head.InputSize != champion.Head.InputSize)
        {
            LogSkipped(logger, model.Manifest.Name, model.Manifest.Version, "it reads another input than the samples were stored for");
            return null;
        }
        var labels = champion.Task.LabelNames;
        IReadOnlyList<int>? map = labels.SequenceEqual(model.Manifest.Task.LabelNames, StringComparer.Ordinal)
            ? null
            : [.. labels.Select(n => IndexOf(model.Manifest.Task.LabelNames, n))];
        try
        {
            using var head = engine.Create(model.Head, model.TrainingOptions, model.HeadWeights);
            return HeadLoss.PerSample(head, run.Fresh, map);
        }
        catch (ArgumentException ex)
        {
            LogSkipped(logger, model.Manifest.Name, model.Manifest.Version, ex.Message);
            return null;
        }
    }

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (var i = 0; i < names.Count; i++)
            if (string.Equals(names[i], name, StringComparison.Ordinal)) return i;
        return -1;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Cluster report: cluster {Cluster}, {Count} cluster losses on {Samples} samples.")]
    private static partial void LogScored(ILogger logger, int cluster, int count, int samples);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cluster head {Model} v{Version} not scored: {Reason}")]
    private static partial void LogSkipped(ILogger logger, string model, string version, string reason);
}
