using System.CommandLine;
using System.Globalization;
using ContinualLearning.Bundle;
using ContinualLearning.Experiments;
using ContinualLearning.Experiments.Keywords;
using ContinualLearning.Pipelines;
using ContinualLearning.Replay;
using ContinualLearning.Training;

namespace ContinualLearning.Cli.Commands;

/// <summary>
/// `cl experiment --stream keywords`: the espeak-ng keyword corpus (generated when absent), embedded once through a
/// speech bundle's pipeline, then the pooling study and the three scenarios (new voice family, new keywords, noise)
/// with none, fine-tune, replay and replay+EWC. Options shared with the other streams apply when given.
/// </summary>
internal static class KeywordExperimentCommand
{
    private static readonly Option<string?> s_corpus = new("--corpus") { Description = "Keyword corpus folder (generated there when absent; default $CL_KEYWORDS_DIR, then data/keywords)." };
    private static readonly Option<string> s_seeds = new("--seeds") { Description = "Keywords: comma list of seeds (split, base model, device clips).", DefaultValueFactory = _ => "1,2,3" };
    private static readonly Option<string> s_shots = new("--shots") { Description = "Keywords: labelled clips per word, comma list.", DefaultValueFactory = _ => "1,5,10" };
    private static readonly Option<string> s_pool = new("--pool") { Description = "Keywords: pooling of window embeddings: mean, max or meanmax.", DefaultValueFactory = _ => "meanmax" };
    private static readonly Option<int?> s_baseEpochs = new("--base-epochs") { Description = "Keywords: epochs of base training (default 60)." };
    private static readonly Option<int?> s_adaptEpochs = new("--adapt-epochs") { Description = "Keywords: passes over the device's clips per update (default 30)." };
    private static readonly Option<float?> s_baseLr = new("--base-lr") { Description = "Keywords: Adam learning rate of base training (default 0.003)." };
    private static readonly Option<string?> s_baseVariants = new("--base-variants") { Description = "Keywords: voice variants the base model hears (comma list, e.g. m1,m2,m3,m4,m5,m6,m7; default all). A new family is then spoken by the other variants." };
    private static readonly Option<string?> s_baseFamilies = new("--base-families") { Description = "Keywords: voice families (espeak-ng accents) the base model is trained on (comma list; default en-us,en-gb,en-gb-x-rp,en-gb-x-gbclan,en-us-nyc). The corpus's other accents are the new families." };
    private static readonly Option<string?> s_scenario = new("--scenario") { Description = "Keywords: all, or a comma list of: voice, keywords, noise." };

    /// <summary>The keyword-only options, added to `cl experiment`.</summary>
    public static IEnumerable<Option> Options => [s_corpus, s_seeds, s_shots, s_pool, s_baseEpochs, s_adaptEpochs, s_baseLr, s_baseVariants, s_baseFamilies, s_scenario];

    /// <summary>Validates the options into keyword settings; <see cref="UsageException"/> names the bad option.</summary>
    internal static (KeywordOptions Options, IReadOnlyList<StrategyKind> Strategies, IReadOnlyList<KeywordScenario> Scenarios) Plan(ParseResult parse,
        Option<string> strategy, Option<float> lr, Option<string> hidden, Option<int> batch, Option<int> replayCapacity, Option<double> replayRatio,
        Option<string> replayPolicy, Option<float> ewcLambda)
    {
        var o = new KeywordOptions
        {
            Seeds = Ints(parse.GetValue(s_seeds)!, "--seeds", min: int.MinValue),
            Shots = Ints(parse.GetValue(s_shots)!, "--shots", min: 1),
            Pool = parse.GetValue(s_pool)!.ToLowerInvariant() switch
            {
                "mean" => PoolMode.Mean,
                "max" => PoolMode.Max,
                "meanmax" or "mean-max" => PoolMode.MeanMax,
                var other => throw new UsageException($"--pool value '{other}' is not a pooling; allowed values: mean, max, meanmax."),
            },
        };
        if (parse.GetValue(s_baseFamilies) is { Length: > 0 } families)
            o = o with { BaseFamilies = families.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) };
        if (parse.GetValue(s_baseVariants) is { Length: > 0 } variants)
            o = o with { BaseVariants = variants.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) };
        if (parse.GetValue(s_baseEpochs) is { } be) o = o with { BaseEpochs = be };
        if (parse.GetValue(s_adaptEpochs) is { } ae) o = o with { AdaptEpochs = ae };
        if (parse.GetValue(s_baseLr) is { } blr) o = o with { BaseLearningRate = blr };
        // Shared options keep their prequential defaults there; here they apply only when typed.
        if (Given(parse, lr)) o = o with { AdaptLearningRate = parse.GetValue(lr) };
        if (Given(parse, hidden)) o = o with { Hidden = parse.GetValue(hidden) is "0" or "" ? [] : Ints(parse.GetValue(hidden)!, "--hidden", min: 1) };
        if (Given(parse, batch)) o = o with { BatchSize = parse.GetValue(batch) };
        if (Given(parse, replayCapacity)) o = o with { ReplayCapacity = parse.GetValue(replayCapacity) };
        if (Given(parse, replayRatio)) o = o with { ReplayRatio = parse.GetValue(replayRatio) };
        if (Given(parse, ewcLambda)) o = o with { EwcLambda = parse.GetValue(ewcLambda) };
        if (Given(parse, replayPolicy))
        {
            o = o with
            {
                ReplayPolicy = parse.GetValue(replayPolicy)!.ToLowerInvariant() switch
                {
                    "reservoir" => ReplayPolicyKind.Reservoir,
                    "class-balanced" or "classbalanced" or "balanced" => ReplayPolicyKind.ClassBalanced,
                    var other => throw new UsageException($"--replay-policy value '{other}' is not a policy; allowed values: reservoir, class-balanced."),
                },
            };
        }
        try
        {
            o.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new UsageException(e.Message.Split(" (Parameter")[0] + " Fix the matching option of `cl experiment --stream keywords`.");
        }
        var strategies = Given(parse, strategy)
            ? StrategyNames.ParseList(parse.GetValue(strategy)!)
            : [StrategyKind.NoUpdate, StrategyKind.Stateful, StrategyKind.Replay, StrategyKind.Ewc];
        if (strategies.Contains(StrategyKind.Stateless))
            throw new UsageException("--strategy stateless does not apply to the keyword stream (a device with a handful of clips has no window to retrain on); use none, stateful, replay, ewc.");
        var scenarioText = parse.GetValue(s_scenario) ?? "all";
        IReadOnlyList<KeywordScenario> scenarios = scenarioText.Equals("all", StringComparison.OrdinalIgnoreCase) ? Enum.GetValues<KeywordScenario>()
            : [.. scenarioText.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(s => s.ToLowerInvariant() switch
            {
                "voice" => KeywordScenario.NewVoice,
                "keywords" => KeywordScenario.NewKeywords,
                "noise" => KeywordScenario.Noise,
                _ => throw new UsageException($"--scenario value '{s}' is not a scenario; allowed values: all, voice, keywords, noise."),
            })];
        return (o, strategies, scenarios);
    }

    /// <summary>`cl experiment --stream keywords`: plans (exit 2 on a bad option) and executes.</summary>
    internal static int Run(ParseResult parse, Func<ParseResult, (KeywordOptions, IReadOnlyList<StrategyKind>, IReadOnlyList<KeywordScenario>)> plan,
        string outDir, string commandLine, TextWriter output, TextWriter error)
    {
        (KeywordOptions Options, IReadOnlyList<StrategyKind> Strategies, IReadOnlyList<KeywordScenario> Scenarios) p;
        try
        {
            p = plan(parse);
        }
        catch (Exception e) when (e is UsageException or ArgumentException)
        {
            error.WriteLine($"cl experiment: {e.Message}");
            return 2;
        }
        output.WriteLine($"Stream: keywords; strategies {string.Join(", ", p.Strategies.Select(KeywordReport.Label))}; scenarios {string.Join(", ", p.Scenarios.Select(KeywordExperiment.Name))}.");
        return Execute(p.Options, p.Strategies, p.Scenarios, parse.GetValue(s_corpus) ?? KeywordsCommand.DefaultDirectory(), outDir, commandLine, output, error);
    }

    /// <summary>Generates or loads the corpus, embeds it, runs the pooling study and the scenarios, writes the report.</summary>
    internal static int Execute(KeywordOptions options, IReadOnlyList<StrategyKind> strategies, IReadOnlyList<KeywordScenario> scenarios,
        string corpusDir, string outDir, string commandLine, TextWriter output, TextWriter error)
    {
        KeywordCorpus corpus;
        KeywordEmbeddings embeddings;
        try
        {
            var made = KeywordCorpusGenerator.Generate(corpusDir, new KeywordCorpusSpec(), Math.Min(2, Environment.ProcessorCount));
            corpus = made.Corpus;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Corpus: {corpus.Clips.Count} clips in {corpus.Directory} ({(made.Generated ? $"generated in {made.Elapsed.TotalSeconds:0} s" : "up to date")})."));
            // The embedding pipeline is the one a speech bundle declares; mean+max pooling gives the other two poolings as halves.
            embeddings = KeywordEmbeddings.EmbedWithSpeechModels(corpus, PoolMode.MeanMax, options.BaseWords);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Embedded {corpus.Clips.Count} clips in {embeddings.Elapsed.TotalSeconds:0.0} s ({corpus.Clips.Count / embeddings.Elapsed.TotalSeconds:0} clips/s, one pipeline)."));
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or FileNotFoundException or BundleException or UnauthorizedAccessException)
        {
            error.WriteLine($"cl experiment: {e.Message}");
            return 1;
        }
        ITrainingEngine engine = new ManagedEngine();
        var pooling = KeywordPooling.Run(embeddings, options, engine);
        var poolingLines = KeywordReport.PoolingLines(pooling);
        foreach (var line in poolingLines) output.WriteLine(line);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var cells = KeywordExperiment.Run(embeddings, options, strategies, engine, scenarios, new InlineProgress(output.WriteLine));
        var lines = KeywordReport.TableLines(cells);
        foreach (var line in lines) output.WriteLine(line);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Scenarios ran in {watch.Elapsed.TotalSeconds:0.0} s."));
        try
        {
            Directory.CreateDirectory(outDir);
            var md = new List<string> { "# Keyword stream", "", $"Command: `{commandLine}`", "", Describe(options, corpus, embeddings), "", "## Pooling (no-update base model, held out)", "" };
            md.AddRange(poolingLines);
            md.AddRange(["", "## Scenarios", ""]);
            md.AddRange(lines);
            File.WriteAllLines(Path.Combine(outDir, "results.md"), md);
            File.WriteAllText(Path.Combine(outDir, "runs.csv"), KeywordReport.Csv(cells));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"cl experiment: could not write the results to '{Path.GetFullPath(outDir)}': {e.Message} Free space or pick another folder with --out.");
            return 1;
        }
        output.WriteLine($"Wrote {Path.Combine(outDir, "results.md")} and runs.csv.");
        return 0;
    }

    private static string Describe(KeywordOptions o, KeywordCorpus corpus, KeywordEmbeddings embeddings) => string.Create(CultureInfo.InvariantCulture,
        $"Settings: corpus seed {corpus.Spec.Seed}, {corpus.Clips.Count} clips ({embeddings.Elapsed.TotalSeconds:0} s to embed); base families {string.Join(", ", o.BaseFamilies)} (variants: {(o.BaseVariants.Count == 0 ? "all" : string.Join(", ", o.BaseVariants))}); base words {string.Join(", ", o.BaseWords)}; new words {string.Join(", ", o.NewWords)}; ") +
        string.Create(CultureInfo.InvariantCulture,
        $"pooling {o.Pool}; head {embeddings.Vector(0, o.Pool).Length}→{string.Join("→", o.Hidden.Append(o.BaseWords.Count))} (ReLU, softmax CE); base: Adam lr {o.BaseLearningRate}, {o.BaseEpochs} epochs, batch {o.BatchSize}; ") +
        string.Create(CultureInfo.InvariantCulture,
        $"device: Adam lr {o.AdaptLearningRate}, {o.AdaptEpochs} passes over its clips; replay {o.ReplayPolicy} capacity {o.ReplayCapacity} (base training embeddings), ratio {o.ReplayRatio}; EWC λ {o.EwcLambda}, Fisher on {o.FisherSamples} replayed samples; seeds {string.Join(", ", o.Seeds)}.");

    private static bool Given(ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };

    private static int[] Ints(string text, string option, int min)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new UsageException($"{option} is empty; give a comma list of integers.");
        return [.. parts.Select(p => int.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min ? v
            : throw new UsageException($"{option} value '{p}' is invalid; give integers{(min > int.MinValue ? $" of at least {min}" : "")}, comma-separated."))];
    }

    /// <summary>Reports on the calling thread.</summary>
    private sealed class InlineProgress(Action<string> report) : IProgress<string>
    {
        public void Report(string value) => report(value);
    }
}
