using ContinualLearning.Training;

namespace ContinualLearning.Experiments.Keywords;

/// <summary>The three keyword scenarios.</summary>
public enum KeywordScenario
{
    /// <summary>(a) A voice family the base model never heard; the device adapts with k clips per word.</summary>
    NewVoice,

    /// <summary>(b) Two new keywords: the head grows an output each; k clips per new word.</summary>
    NewKeywords,

    /// <summary>(c) Background noise appears (white, pink or brown at 0–10 dB SNR); k noisy clips per word.</summary>
    Noise,
}

/// <summary>One adaptation: a scenario, condition, strategy, k and seed, scored before and after.</summary>
/// <param name="Scenario">Which scenario.</param>
/// <param name="Condition">The new voice family (new-voice scenario), else the scenario's condition name.</param>
/// <param name="Strategy">The update rule.</param>
/// <param name="Shots">Labelled clips per (new) word.</param>
/// <param name="Seed">Seed of the split, base model, device clips and batches.</param>
/// <param name="NewBefore">Accuracy on the new condition before the update (new-keyword scenario: recall of the new words).</param>
/// <param name="NewAfter">The same after.</param>
/// <param name="OldBefore">Accuracy on the old condition (base families, base words, clean) before.</param>
/// <param name="OldAfter">The same after.</param>
/// <param name="Clips">Labelled clips the device used.</param>
/// <param name="SampleGradients">Training compute of the update.</param>
/// <param name="WallTime">Training time of the update.</param>
public sealed record KeywordCell(KeywordScenario Scenario, string Condition, StrategyKind Strategy, int Shots, int Seed,
    double NewBefore, double NewAfter, double OldBefore, double OldAfter, int Clips, long SampleGradients, TimeSpan WallTime);

/// <summary>
/// Runs the keyword scenarios on embedded clips. Per seed: split the corpus (<see cref="KeywordSplit"/>), train one
/// base head on the base families' base-word training clips, fill a replay buffer with their embeddings (what a
/// device ships with for latent replay), then for every scenario, condition and k draw the device's labelled clips and
/// run every strategy from the same base weights; score the held-out clips of the new and the old condition.
/// </summary>
public static class KeywordExperiment
{
    /// <summary>Runs every scenario; <paramref name="progress"/> gets a line per seed and scenario.</summary>
    public static IReadOnlyList<KeywordCell> Run(KeywordEmbeddings embeddings, KeywordOptions options, IReadOnlyList<StrategyKind> strategies,
        ITrainingEngine engine, IReadOnlyList<KeywordScenario>? scenarios = null, IProgress<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(strategies);
        ArgumentNullException.ThrowIfNull(engine);
        options.Validate();
        scenarios ??= Enum.GetValues<KeywordScenario>();
        var corpus = embeddings.Corpus;
        Require(corpus, options);
        var cells = new List<KeywordCell>();
        foreach (var seed in options.Seeds)
        {
            var data = new KeywordRows(embeddings, options, seed);
            var spec = new HeadSpec([data.Width, .. options.Hidden, options.BaseWords.Count], LossKind.SoftmaxCrossEntropy);
            var baseWeights = KeywordTraining.TrainBase(engine, spec, data.Rows(ClipRole.BaseTrain, clean: true, data.IsBase, options.BaseWords), options, seed);
            var replay = KeywordTraining.ReplayFrom(data.Rows(ClipRole.BaseTrain, clean: true, data.IsBase, options.BaseWords), options.BaseWords.Count, options, seed);
            var oldTest = data.Rows(ClipRole.Test, clean: true, data.IsBase, options.BaseWords);
            var oldBefore = KeywordTraining.Accuracy(engine, spec, baseWeights, oldTest);

            foreach (var scenario in scenarios)
            {
                progress?.Report($"seed {seed}: {Name(scenario)}");
                foreach (var (condition, pool, newTest, grown) in Conditions(scenario, data, options, spec, baseWeights))
                {
                    var (runSpec, start) = grown ?? (spec, baseWeights);
                    var newBefore = KeywordTraining.Accuracy(engine, runSpec, start, newTest);
                    var oldStart = grown is null ? oldBefore : KeywordTraining.Accuracy(engine, runSpec, start, oldTest);
                    foreach (var k in options.Shots)
                    {
                        var fresh = Pick(pool, k, KeywordCorpusPlan.ClipSeed(seed, $"pick|{scenario}|{condition}|{k}"));
                        foreach (var kind in strategies)
                        {
                            var result = KeywordTraining.Adapt(kind, engine, runSpec, start, fresh, replay, options, seed);
                            cells.Add(new KeywordCell(scenario, condition, kind, k, seed,
                                newBefore, KeywordTraining.Accuracy(engine, runSpec, result.Weights, newTest),
                                oldStart, KeywordTraining.Accuracy(engine, runSpec, result.Weights, oldTest),
                                kind == StrategyKind.NoUpdate ? 0 : fresh.Count, result.SampleGradients, result.WallTime));
                        }
                    }
                }
            }
        }
        return cells;
    }

    /// <summary>The scenario's name in tables.</summary>
    public static string Name(KeywordScenario scenario) => scenario switch
    {
        KeywordScenario.NewVoice => "new voice family",
        KeywordScenario.NewKeywords => "new keywords",
        _ => "noise appears",
    };

    // Per condition: its name, the device's labelled pool, the held-out new-condition clips, and a grown head when the
    // label space changes.
    private static IEnumerable<(string Condition, IReadOnlyList<LabelledRow> Pool, IReadOnlyList<LabelledRow> NewTest, (HeadSpec, IReadOnlyList<Tensors.NamedTensor>)? Grown)> Conditions(
        KeywordScenario scenario, KeywordRows data, KeywordOptions options, HeadSpec spec, IReadOnlyList<Tensors.NamedTensor> baseWeights)
    {
        switch (scenario)
        {
            case KeywordScenario.NewVoice:
                foreach (var family in data.NewFamilies)
                    yield return (family, data.Rows(ClipRole.Adapt, clean: true, data.NewFamily(family), options.BaseWords),
                        data.Rows(ClipRole.Test, clean: true, data.NewFamily(family), options.BaseWords), null);
                break;
            case KeywordScenario.NewKeywords:
                var grown = HeadGrowth.AddClasses(spec, baseWeights, options.NewWords.Count);
                IReadOnlyList<string> words = [.. options.BaseWords, .. options.NewWords];
                yield return (string.Join("+", options.NewWords), data.Rows(ClipRole.Adapt, clean: true, data.IsBase, words, onlyFrom: options.NewWords),
                    data.Rows(ClipRole.Test, clean: true, data.IsBase, words, onlyFrom: options.NewWords), (grown.Spec, grown.Weights));
                break;
            default:
                yield return ("noisy", data.Rows(ClipRole.Adapt, clean: false, data.IsBase, options.BaseWords),
                    data.Rows(ClipRole.Test, clean: false, data.IsBase, options.BaseWords), null);
                break;
        }
    }

    // k rows per label, drawn without replacement with a seeded shuffle (fewer when the pool has fewer).
    private static List<LabelledRow> Pick(IReadOnlyList<LabelledRow> pool, int k, int seed)
    {
        var rng = new Random(seed);
        var picked = new List<LabelledRow>();
        foreach (var group in pool.GroupBy(r => r.Y).OrderBy(g => g.Key))
        {
            var rows = group.ToArray();
            rng.Shuffle(rows);
            picked.AddRange(rows.Take(k));
        }
        return picked;
    }

    private static void Require(KeywordCorpus corpus, KeywordOptions options)
    {
        var words = corpus.Clips.Select(c => c.Word).ToHashSet(StringComparer.Ordinal);
        var accents = corpus.Clips.Select(c => c.Accent).ToHashSet(StringComparer.Ordinal);
        var missing = options.BaseWords.Concat(options.NewWords).Where(w => !words.Contains(w)).ToList();
        if (missing.Count > 0)
            throw new ArgumentException($"The corpus in {corpus.Directory} has no clips of {string.Join(", ", missing)}; generate the full corpus (`cl keywords make`) or choose words it has ({string.Join(", ", words.Order(StringComparer.Ordinal))}).");
        var missingFamilies = options.BaseFamilies.Where(f => !accents.Contains(f)).ToList();
        if (missingFamilies.Count > 0 || accents.All(options.BaseFamilies.Contains))
            throw new ArgumentException($"The base voice families ({string.Join(", ", options.BaseFamilies)}) must be accents of the corpus and leave at least one new family; the corpus has {string.Join(", ", accents.Order(StringComparer.Ordinal))}.");
    }
}
