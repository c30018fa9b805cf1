using System.CommandLine;
using System.Globalization;
using ContinualLearning.Experiments.Keywords;

namespace ContinualLearning.Cli.Commands;

/// <summary>`cl keywords make`: the espeak-ng keyword corpus behind `cl experiment --stream keywords` and the keyword demo.</summary>
internal static class KeywordsCommand
{
    private static readonly Option<string> s_out = new("--out") { Description = "Corpus folder (clips/, manifest.csv, corpus.json).", DefaultValueFactory = _ => DefaultDirectory() };
    private static readonly Option<int> s_seed = new("--seed") { Description = "Seed of the per-clip speed, pitch, level, offset and noise draws.", DefaultValueFactory = _ => 1 };
    private static readonly Option<bool> s_small = new("--small") { Description = "The small test subset (3 words × 2 accents × 2 variants) instead of the full corpus." };
    private static readonly Option<int> s_parallel = new("--parallel") { Description = "espeak-ng processes at once (output is identical for any value).", DefaultValueFactory = _ => Math.Min(2, Environment.ProcessorCount) };

    /// <summary>$CL_KEYWORDS_DIR, else data/keywords.</summary>
    internal static string DefaultDirectory() => KeywordCorpusGenerator.DefaultDirectory();

    public static Command Build()
    {
        var make = new Command("make", "Generate the keyword corpus (espeak-ng voices, speeds, pitches, noise at set SNRs) unless the folder already holds the same one.")
        {
            s_out, s_seed, s_small, s_parallel,
        };
        make.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var parallel = parse.GetValue(s_parallel);
            if (parallel < 1)
            {
                error.WriteLine($"cl keywords make: --parallel value {parallel} is invalid; it must be at least 1.");
                return 2;
            }
            var spec = (parse.GetValue(s_small) ? KeywordCorpusSpec.Small : new KeywordCorpusSpec()) with { Seed = parse.GetValue(s_seed) };
            var dir = parse.GetValue(s_out)!;
            try
            {
                var result = KeywordCorpusGenerator.Generate(dir, spec, parallel);
                var c = result.Corpus;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{(result.Generated ? "Generated" : "Up to date:")} {c.Clips.Count} clips ({c.Clips.Count(x => x.IsClean)} clean) of {spec.Words.Count} words, {spec.Accents.Count} accents, {spec.Variants.Count} variants in {c.Directory} ({result.Elapsed.TotalSeconds:0.0} s)."));
                return 0;
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException or ArgumentException or TimeoutException)
            {
                error.WriteLine($"cl keywords make: {e.Message}");
                return 1;
            }
        });
        return new Command("keywords", "The spoken-keyword corpus for the keyword experiments and demo.") { make };
    }
}
