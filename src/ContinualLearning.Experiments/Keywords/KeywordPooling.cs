using ContinualLearning.Pipelines;
using ContinualLearning.Training;

namespace ContinualLearning.Experiments.Keywords;

/// <summary>Held-out accuracy of the base model under one pooling choice (mean ± sd over seeds).</summary>
/// <param name="Pool">How the window embeddings were pooled.</param>
/// <param name="Width">Head input width.</param>
/// <param name="BaseFamilies">Accuracy on held-out clean clips of the base voice families.</param>
/// <param name="NewFamilies">Accuracy on held-out clean clips of the voice families the base never heard.</param>
/// <param name="Noisy">Accuracy on held-out noisy clips of the base families.</param>
public sealed record PoolingResult(PoolMode Pool, int Width, Summary BaseFamilies, Summary NewFamilies, Summary Noisy);

/// <summary>Mean and sample standard deviation of a metric over runs.</summary>
public readonly record struct Summary(double Mean, double Sd, int Count)
{
    /// <summary>Summarises <paramref name="values"/> (NaN entries skipped).</summary>
    public static Summary Of(IEnumerable<double> values)
    {
        var v = values.Where(x => !double.IsNaN(x)).ToArray();
        if (v.Length == 0) return new Summary(double.NaN, double.NaN, 0);
        var mean = v.Average();
        var sd = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1)) : 0;
        return new Summary(mean, sd, v.Length);
    }
}

/// <summary>
/// Chooses how clip-level features are formed: trains the base model under each pooling (mean, max, mean+max — halves
/// of one mean+max embedding pass) and scores it on held-out clips, the no-update accuracy every scenario starts from.
/// </summary>
public static class KeywordPooling
{
    /// <summary>One result per pooling mode.</summary>
    public static IReadOnlyList<PoolingResult> Run(KeywordEmbeddings embeddings, KeywordOptions options, ITrainingEngine engine)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        ArgumentNullException.ThrowIfNull(options);
        var results = new List<PoolingResult>();
        foreach (var pool in new[] { PoolMode.Mean, PoolMode.Max, PoolMode.MeanMax })
        {
            var o = options with { Pool = pool };
            var scores = o.Seeds.Select(seed => Score(embeddings, o, engine, seed)).ToList();
            results.Add(new PoolingResult(pool, embeddings.Vector(0, pool).Length,
                Summary.Of(scores.Select(s => s.Base)), Summary.Of(scores.Select(s => s.New)), Summary.Of(scores.Select(s => s.Noisy))));
        }
        return results;
    }

    private static (double Base, double New, double Noisy) Score(KeywordEmbeddings embeddings, KeywordOptions options, ITrainingEngine engine, int seed)
    {
        var data = new KeywordRows(embeddings, options, seed);
        var spec = new HeadSpec([data.Width, .. options.Hidden, options.BaseWords.Count], LossKind.SoftmaxCrossEntropy);
        var weights = KeywordTraining.TrainBase(engine, spec, data.Rows(ClipRole.BaseTrain, clean: true, data.IsBase, options.BaseWords), options, seed);
        return (KeywordTraining.Accuracy(engine, spec, weights, data.Rows(ClipRole.Test, clean: true, data.IsBase, options.BaseWords)),
            KeywordTraining.Accuracy(engine, spec, weights, data.Rows(ClipRole.Test, clean: true, data.IsNew, options.BaseWords)),
            KeywordTraining.Accuracy(engine, spec, weights, data.Rows(ClipRole.Test, clean: false, data.IsBase, options.BaseWords)));
    }
}
