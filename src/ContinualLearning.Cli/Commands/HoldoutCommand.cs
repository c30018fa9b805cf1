using System.CommandLine;
using System.Globalization;
using System.Text;
using ContinualLearning.Aggregator.Holdout;
using ContinualLearning.Audio;
using ContinualLearning.Bundle;
using ContinualLearning.Onnx;
using ContinualLearning.Pipelines;
using ContinualLearning.Streams;
using ContinualLearning.Text;

namespace ContinualLearning.Cli.Commands;

/// <summary>What <see cref="HoldoutCommand.Embed"/> wrote: rows per class, inputs left out per unknown label, and the pipeline.</summary>
internal sealed record HoldoutEmbedResult(IReadOnlyDictionary<string, int> Rows, IReadOnlyDictionary<string, int> Skipped, string Pipeline);

/// <summary>
/// <c>cl holdout embed</c>: the aggregator's holdout set for a model whose head input comes out of a pipeline (audio
/// stages, or a backbone). Labelled clips (or raw feature rows) go through the release's own pipeline
/// (<see cref="InputPipelineFactory.Create"/>, as on the devices) and only the head inputs are written
/// (<see cref="HoldoutEmbeddingsCsv"/>), so the aggregator needs neither the audio nor ONNX Runtime.
/// </summary>
internal static class HoldoutCommand
{
    private static readonly Option<string> s_bundle = new("--bundle") { Description = "The release's bundle folder (its pipeline embeds the inputs).", Required = true };
    private static readonly Option<string?> s_clips = new("--clips") { Description = "Audio models: a folder of <label>/*.wav folders, a folder with manifest.csv (e.g. `cl keywords make`), or a CSV list with file and label (or word) columns." };
    private static readonly Option<string?> s_features = new("--features") { Description = "Backbone models: a CSV of the model's raw feature columns and the label column." };
    private static readonly Option<string> s_out = new("--out") { Description = "The holdout CSV to write (holdout:csvPath of the aggregator).", Required = true };
    private static readonly Option<string> s_label = new("--label-column") { Description = "The label column written (and read from --features); the aggregator's holdout:labelColumn.", DefaultValueFactory = _ => "class" };
    private static readonly Option<bool> s_skipUnknown = new("--skip-unknown") { Description = "Leave out inputs whose label is not a class of the model (default: refuse them)." };

    public static Command Build()
    {
        var embed = new Command("embed", "Embed labelled clips (or feature rows) with a release's own pipeline into the aggregator's holdout CSV of head inputs.")
        {
            s_bundle, s_clips, s_features, s_out, s_label, s_skipUnknown,
        };
        embed.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var (clips, features) = (parse.GetValue(s_clips), parse.GetValue(s_features));
            if ((clips is null) == (features is null))
            {
                error.WriteLine("cl holdout embed: give exactly one of --clips (audio models) or --features (backbone models).");
                return 2;
            }
            var outPath = parse.GetValue(s_out)!;
            try
            {
                var bundle = ModelBundle.Load(parse.GetValue(s_bundle)!);
                var label = parse.GetValue(s_label)!;
                var inputs = clips is not null ? Clips(bundle.Manifest, clips) : Features(bundle.Manifest, features!, label);
                var result = Embed(bundle, inputs, outPath, label, parse.GetValue(s_skipUnknown));
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Wrote {result.Rows.Values.Sum()} head inputs of {bundle.Manifest.Name} {bundle.Manifest.Version} ({string.Join(", ", result.Rows.Select(r => $"{r.Key} {r.Value}"))}) to {outPath}; pipeline {result.Pipeline}."));
                if (result.Skipped.Count > 0)
                    output.WriteLine($"Left out {result.Skipped.Values.Sum()} inputs of labels the model lacks: {Describe(result.Skipped)}.");
                return 0;
            }
            catch (Exception e) when (e is CliException or BundleException or IOException or UnauthorizedAccessException or FormatException or ArgumentException or InvalidOperationException)
            {
                error.WriteLine($"cl holdout embed: {e.Message}");
                return 1;
            }
        });
        return new Command("holdout", "The aggregator's holdout set (docs/aggregator.md, \"Holdout gate\").") { embed };
    }

    /// <summary>
    /// Embeds <paramref name="inputs"/> with <paramref name="bundle"/>'s pipeline into <paramref name="outPath"/> (written
    /// whole, then renamed into place). Labels the model lacks are refused, or left out with <paramref name="skipUnknown"/>.
    /// </summary>
    /// <exception cref="CliException">The model has no pipeline, an input cannot be read, or labels are unknown.</exception>
    public static HoldoutEmbedResult Embed(ModelBundle bundle, IReadOnlyList<HoldoutInput> inputs, string outPath, string labelColumn, bool skipUnknown)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        ArgumentNullException.ThrowIfNull(inputs);
        var manifest = bundle.Manifest;
        var pipeline = HoldoutPipeline.Fingerprint(manifest)
            ?? throw new CliException($"Model {manifest.Name} {manifest.Version} takes {HoldoutPipeline.DescribeInput(manifest)}: the gate reads its features CSV (feature columns and the label column) directly; nothing to embed.");
        var classes = manifest.Task.LabelNames.ToHashSet(StringComparer.Ordinal);
        var skipped = inputs.Where(i => !classes.Contains(i.Label)).CountBy(i => i.Label).ToDictionary(StringComparer.Ordinal);
        if (skipped.Count > 0 && !skipUnknown)
            throw new CliException($"Labels that are not classes of {manifest.Name} {manifest.Version} ({string.Join(", ", manifest.Task.LabelNames)}): {Describe(skipped)}. Rename them, or pass --skip-unknown to leave them out.");
        var rows = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var temporary = outPath + ".tmp";
        using (var embedder = InputPipelineFactory.Create(bundle))
        using (var writer = new StreamWriter(temporary, false, new UTF8Encoding(false)))
        {
            HoldoutEmbeddingsCsv.WriteHeader(writer, manifest, labelColumn);
            var embedding = new float[embedder.OutputSize];
            foreach (var input in inputs.Where(i => classes.Contains(i.Label)))
            {
                try
                {
                    embedder.Embed(input.Read(), embedding);
                }
                catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException or ArgumentException)
                {
                    throw new CliException($"{DisplayText.Truncate(input.Source, 200)}: {e.Message}");
                }
                HoldoutEmbeddingsCsv.WriteRow(writer, embedding, input.Label);
                rows[input.Label] = rows.GetValueOrDefault(input.Label) + 1;
            }
        }
        if (rows.Count == 0)
        {
            File.Delete(temporary);
            throw new CliException($"No input has a label of {manifest.Name} {manifest.Version} ({string.Join(", ", manifest.Task.LabelNames)}); nothing written.");
        }
        File.Move(temporary, outPath, overwrite: true);
        return new HoldoutEmbedResult(rows, skipped, pipeline);
    }

    /// <summary>The clips of <paramref name="source"/>, read as the device reads a WAV (<see cref="WavReader"/>, the model's format).</summary>
    internal static IReadOnlyList<HoldoutInput> Clips(ModelManifest manifest, string source)
    {
        if (manifest.InputSchema.Kind != InputKind.Audio || manifest.InputSchema.Audio is not { } audio)
            throw new CliException($"--clips is for audio models; {manifest.Name} {manifest.Version} takes {HoldoutPipeline.DescribeInput(manifest)}: use --features.");
        return HoldoutClips.Find(source).Select(c => new HoldoutInput(c.Path, c.Label, () => WavReader.ReadPcm16Mono(File.ReadAllBytes(c.Path), audio))).ToArray();
    }

    /// <summary>The rows of a raw features CSV (the model's feature columns and <paramref name="labelColumn"/>).</summary>
    internal static IReadOnlyList<HoldoutInput> Features(ModelManifest manifest, string path, string labelColumn)
    {
        if (manifest.InputSchema.Kind != InputKind.Features)
            throw new CliException($"--features is for feature models with a backbone; {manifest.Name} {manifest.Version} takes {HoldoutPipeline.DescribeInput(manifest)}: use --clips.");
        var csv = CsvStream.Load(path, new CsvStreamOptions { LabelColumn = labelColumn, FeatureColumns = manifest.InputSchema.Features.Select(f => f.Name).ToArray() });
        return csv.Select((s, i) => new HoldoutInput($"{path}, row {i + 1}", csv.Schema.Classes[s.Label], () => s.Features)).ToArray();
    }

    private static string Describe(IReadOnlyDictionary<string, int> counts) =>
        string.Join(", ", counts.Take(10).Select(c => $"'{DisplayText.Truncate(c.Key, 40)}' ({c.Value})")) + (counts.Count > 10 ? $" and {counts.Count - 10} more" : "");
}
