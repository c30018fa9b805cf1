using System.Diagnostics.CodeAnalysis;
using ContinualLearning.Pipelines;
using ContinualLearning.Text;

namespace ContinualLearning.Bundle;

/// <summary>
/// manifest.json's <c>inputSchema</c>: features (kind "features"), or the audio spec and the ordered stages that turn
/// PCM into the head input (kind "audio"). Parsing, writing and validation, each error naming field, value and fix.
/// </summary>
internal static class InputSchemaManifest
{
    /// <summary>The longest clip a manifest may accept: bounded work and memory per request (100 s at 48 kHz).</summary>
    public const int MaxAudioSamples = 4_800_000;

    private static readonly (InputKind Value, string Name)[] Kinds =
        [(InputKind.Features, "features"), (InputKind.Audio, "audio"), (InputKind.Image, "image")];

    private static readonly (PoolMode Value, string Name)[] PoolModes =
        [(PoolMode.Mean, "mean"), (PoolMode.Max, "max"), (PoolMode.MeanMax, "meanMax")];

    private static readonly string[] Ops = ["onnx", "affine", "window", "pool", "standardize"];

    public static string KindName(InputKind kind) => Kinds.First(k => k.Value == kind).Name;

    public static string PoolModeName(PoolMode mode) => PoolModes.First(m => m.Value == mode).Name;

    public static InputSchema FromDocument(InputSchemaDocument schema, string file)
    {
        var kind = schema.Kind is null ? InputKind.Features : Parse(Kinds, schema.Kind, file, "inputSchema.kind");
        // An audio model's head input comes from its stages, so it may leave features out.
        var features = schema.Features ?? (kind == InputKind.Features
            ? throw new BundleException(file, "inputSchema.features", "missing; list the features in input order.")
            : []);
        var specs = new FeatureSpec[features.Count];
        for (var i = 0; i < features.Count; i++)
        {
            var f = features[i] ?? throw new BundleException(file, $"inputSchema.features[{i}]", "is null; expected {\"name\", \"mean\", \"std\"}.");
            specs[i] = new FeatureSpec(
                f.Name ?? throw Missing(file, $"inputSchema.features[{i}].name", "every feature needs a name."),
                f.Mean ?? throw Missing(file, $"inputSchema.features[{i}].mean", "give the training mean (0 for no centring)."),
                f.Std ?? throw Missing(file, $"inputSchema.features[{i}].std", "give the training standard deviation (1 for no scaling)."));
        }

        AudioInputSpec? audio = null;
        if (schema.Audio is { } a)
        {
            var defaults = new AudioInputSpec();
            audio = new AudioInputSpec(a.SampleRate ?? defaults.SampleRate, a.MinSamples ?? defaults.MinSamples, a.MaxSamples ?? defaults.MaxSamples);
        }
        var stages = new PipelineStageSpec[schema.Stages?.Count ?? 0];
        for (var i = 0; i < stages.Length; i++)
            stages[i] = StageFromDocument(schema.Stages![i], file, $"inputSchema.stages[{i}]");
        return new InputSchema(specs, schema.EmbeddingSize) { Kind = kind, Audio = audio, Stages = stages };
    }

    public static InputSchemaDocument ToDocument(InputSchema s) => new()
    {
        Kind = s.Kind == InputKind.Features ? null : KindName(s.Kind),
        Features = s.Features.Select(f => (FeatureDocument?)new FeatureDocument { Name = f.Name, Mean = f.Mean, Std = f.Std }).ToList(),
        EmbeddingSize = s.EmbeddingSize,
        Audio = s.Audio is { } a ? new AudioDocument { SampleRate = a.SampleRate, MinSamples = a.MinSamples, MaxSamples = a.MaxSamples } : null,
        Stages = s.Stages.Count == 0 ? null : s.Stages.Select(StageToDocument).ToList(),
    };

    /// <summary>Checks the input schema; <paramref name="files"/> (when given) must list every stage file.</summary>
    public static void Validate(InputSchema schema, IReadOnlyDictionary<string, string>? files, string file)
    {
        [DoesNotReturn]
        void Fail(string field, string message) => throw new BundleException(file, field, message);

        if (schema?.Features is null) Fail("inputSchema.features", "missing; list the features in input order.");
        switch (schema!.Kind)
        {
            case InputKind.Image:
                Fail("inputSchema.kind", "'image' is not supported by this runtime; it serves 'features' and 'audio' models. Use a runtime with an image pipeline, or export the image model as a feature backbone.");
                break;
            case InputKind.Features:
                if (schema.Features.Count == 0)
                    Fail("inputSchema.features", "missing or empty; list at least one feature with name, mean and std.");
                if (schema.Audio is not null)
                    Fail("inputSchema.audio", "is set but inputSchema.kind is 'features'; set kind to 'audio' or remove audio.");
                if (schema.Stages.Count > 0)
                    Fail("inputSchema.stages", $"lists {schema.Stages.Count} stages but inputSchema.kind is 'features' (features use backbone.onnx); set kind to 'audio' or remove stages.");
                break;
            case InputKind.Audio:
                ValidateAudio(schema, files, Fail);
                break;
            default:
                Fail("inputSchema.kind", $"{(int)schema.Kind} is not one of {string.Join(", ", Kinds.Select(k => k.Name))}.");
                break;
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < schema.Features.Count; i++)
        {
            var f = schema.Features[i];
            var at = $"inputSchema.features[{i}]";
            if (f is null) Fail(at, "is null; expected {\"name\", \"mean\", \"std\"}.");
            if (string.IsNullOrWhiteSpace(f!.Name)) Fail($"{at}.name", $"'{f.Name}' is empty; every feature needs a name.");
            if (!names.Add(f.Name)) Fail($"{at}.name", $"'{f.Name}' appears twice; feature names must be unique.");
            if (!float.IsFinite(f.Mean)) Fail($"{at}.mean", $"{ModelManifest.Format(f.Mean)} for feature '{f.Name}' is not a finite number.");
            if (!float.IsFinite(f.Std) || f.Std <= 0)
                Fail($"{at}.std", $"{ModelManifest.Format(f.Std)} for feature '{f.Name}' must be a finite number > 0 (use 1 for a feature that needs no scaling).");
        }
        if (schema.EmbeddingSize is { } embedding && embedding <= 0)
            Fail("inputSchema.embeddingSize", $"{embedding} must be > 0 (the backbone's output width).");
    }

    private static void ValidateAudio(InputSchema schema, IReadOnlyDictionary<string, string>? files, Action<string, string> fail)
    {
        if (schema.Features.Count > 0)
            fail("inputSchema.features", $"lists {schema.Features.Count} features but inputSchema.kind is 'audio' (the stages make the head input from PCM); leave features empty.");
        if (schema.Audio is not { } audio)
        {
            fail("inputSchema.audio", "missing; an audio model gives {\"sampleRate\": 16000, \"minSamples\": 16000, \"maxSamples\": 160000}.");
            return;
        }
        if (audio.SampleRate is < 1000 or > 192_000)
            fail("inputSchema.audio.sampleRate", $"{audio.SampleRate} Hz is outside 1000–192000; give the rate the first stage expects (16000 for the speech models).");
        if (audio.MinSamples < 1)
            fail("inputSchema.audio.minSamples", $"{audio.MinSamples} must be ≥ 1 (shorter clips are zero-padded to this length).");
        if (audio.MaxSamples < audio.MinSamples || audio.MaxSamples > MaxAudioSamples)
            fail("inputSchema.audio.maxSamples", $"{audio.MaxSamples} must be between minSamples ({audio.MinSamples}) and {MaxAudioSamples}.");
        if (schema.Stages.Count == 0)
            fail("inputSchema.stages", "missing or empty; an audio model lists the stages from PCM to the head input, e.g. [{\"op\":\"onnx\",\"file\":\"melspectrogram.onnx\"}, …].");
        if (schema.EmbeddingSize is null)
            fail("inputSchema.embeddingSize", "missing; an audio model gives the width of its last stage's output (the head's input size).");
        if (!schema.Stages.OfType<OnnxStageSpec>().Any())
            fail("inputSchema.stages", "has no 'onnx' stage; an audio model runs at least one model file.");
        for (var i = 0; i < schema.Stages.Count; i++)
        {
            var at = $"inputSchema.stages[{i}]";
            switch (schema.Stages[i])
            {
                case OnnxStageSpec onnx:
                    if (!IsPlainFileName(onnx.File))
                        fail($"{at}.file", $"'{DisplayName(onnx.File)}' is not a plain bundle file name; give a file name with no directory, e.g. \"melspectrogram.onnx\".");
                    if (onnx.File is ModelManifest.ManifestFileName or ModelManifest.HeadFileName)
                        fail($"{at}.file", $"'{onnx.File}' is the bundle's {(onnx.File == ModelManifest.HeadFileName ? "head weights" : "manifest")}, not a model; name an .onnx file.");
                    if (files is not null && !files.ContainsKey(onnx.File))
                        fail($"{at}.file", $"'{onnx.File}' is not listed in files; every stage file is hashed (and signed) there. Save the bundle with this file (ModelBundle.Save stageFiles).");
                    break;
                case AffineStageSpec affine:
                    if (!float.IsFinite(affine.Scale))
                        fail($"{at}.scale", $"{ModelManifest.Format(affine.Scale)} is not a finite number.");
                    if (!float.IsFinite(affine.Offset))
                        fail($"{at}.offset", $"{ModelManifest.Format(affine.Offset)} is not a finite number.");
                    break;
                case WindowStageSpec window:
                    if (window.Size < 1)
                        fail($"{at}.size", $"{window.Size} must be > 0 (frames per window, 76 for the speech embedding).");
                    if (window.Stride < 1)
                        fail($"{at}.stride", $"{window.Stride} must be > 0 (frames between window starts, 8 for the speech embedding).");
                    break;
                case PoolStageSpec pool:
                    if (!Enum.IsDefined(pool.Mode))
                        fail($"{at}.mode", $"{(int)pool.Mode} is not one of {string.Join(", ", PoolModes.Select(m => m.Name))}.");
                    break;
                case StandardizeStageSpec z:
                    ValidateStandardize(z, at, i == schema.Stages.Count - 1 ? schema.EmbeddingSize : null, fail);
                    break;
                case null:
                    fail(at, "is null; expected an object with \"op\".");
                    break;
            }
        }
    }

    private static void ValidateStandardize(StandardizeStageSpec z, string at, int? outputWidth, Action<string, string> fail)
    {
        if (z.Mean is null || z.Mean.Count == 0)
            fail($"{at}.mean", "missing or empty; give one mean per dimension of the stage's input.");
        if (z.Std is null || z.Std.Count != z.Mean!.Count)
            fail($"{at}.std", $"has {z.Std?.Count ?? 0} values but mean has {z.Mean!.Count}; give one standard deviation per dimension.");
        if (outputWidth is { } width && width != z.Mean!.Count)
            fail($"{at}.mean", $"has {z.Mean.Count} values but inputSchema.embeddingSize is {width}; the last stage's width is the head input.");
        for (var j = 0; j < z.Mean!.Count; j++)
        {
            if (!float.IsFinite(z.Mean[j]))
                fail($"{at}.mean[{j}]", $"{ModelManifest.Format(z.Mean[j])} is not a finite number.");
            if (!float.IsFinite(z.Std![j]) || z.Std[j] <= 0)
                fail($"{at}.std[{j}]", $"{ModelManifest.Format(z.Std[j])} must be a finite number > 0 (use 1 for a dimension that needs no scaling).");
        }
    }

    private static PipelineStageSpec StageFromDocument(StageDocument? d, string file, string at)
    {
        if (d is null) throw new BundleException(file, at, $"is null; expected an object with \"op\" (one of {string.Join(", ", Ops)}).");
        var op = d.Op ?? throw Missing(file, $"{at}.op", $"give one of {string.Join(", ", Ops)}.");
        string[] allowed = op switch
        {
            "onnx" => ["file"],
            "affine" => ["scale", "offset"],
            "window" => ["size", "stride"],
            "pool" => ["mode"],
            "standardize" => ["mean", "std"],
            _ => throw new BundleException(file, $"{at}.op", $"'{DisplayName(op)}' is not one of {string.Join(", ", Ops)}."),
        };
        foreach (var (name, present) in new[] { ("file", d.File is not null), ("scale", d.Scale is not null), ("offset", d.Offset is not null),
                     ("size", d.Size is not null), ("stride", d.Stride is not null), ("mode", d.Mode is not null), ("mean", d.Mean is not null), ("std", d.Std is not null) })
            if (present && !allowed.Contains(name))
                throw new BundleException(file, $"{at}.{name}", $"is not a field of op '{op}' (which takes {string.Join(", ", allowed)}); remove it.");
        return op switch
        {
            "onnx" => new OnnxStageSpec(d.File ?? throw Missing(file, $"{at}.file", "name the bundle's .onnx file, e.g. \"melspectrogram.onnx\".")),
            "affine" => new AffineStageSpec(d.Scale ?? 1f, d.Offset ?? 0f),
            "window" => new WindowStageSpec(
                d.Size ?? throw Missing(file, $"{at}.size", "give the frames per window, e.g. 76."),
                d.Stride ?? throw Missing(file, $"{at}.stride", "give the frames between window starts, e.g. 8.")),
            "standardize" => new StandardizeStageSpec(
                d.Mean ?? throw Missing(file, $"{at}.mean", "give the per-dimension means of the stage's input."),
                d.Std ?? throw Missing(file, $"{at}.std", "give the per-dimension standard deviations (each > 0).")),
            _ => new PoolStageSpec(Parse(PoolModes, d.Mode ?? throw Missing(file, $"{at}.mode", $"give one of {string.Join(", ", PoolModes.Select(m => m.Name))}."), file, $"{at}.mode")),
        };
    }

    private static StageDocument? StageToDocument(PipelineStageSpec s) => s switch
    {
        OnnxStageSpec o => new StageDocument { Op = "onnx", File = o.File },
        AffineStageSpec a => new StageDocument { Op = "affine", Scale = a.Scale, Offset = a.Offset },
        WindowStageSpec w => new StageDocument { Op = "window", Size = w.Size, Stride = w.Stride },
        PoolStageSpec p => new StageDocument { Op = "pool", Mode = PoolModeName(p.Mode) },
        StandardizeStageSpec z => new StageDocument { Op = "standardize", Mean = [.. z.Mean], Std = [.. z.Std] },
        _ => throw new ArgumentException($"Stage type {s?.GetType().Name ?? "null"} has no manifest form.", nameof(s)),
    };

    /// <summary>A bundle file name with no directory part (what <c>files</c> keys and stage files must be).</summary>
    public static bool IsPlainFileName(string? name) =>
        !string.IsNullOrEmpty(name) && name is not "." and not ".." && name.IndexOfAny(['/', '\\', '\0']) < 0;

    private static string DisplayName(string? s) => DisplayText.Truncate(s) ?? "null";

    private static BundleException Missing(string file, string field, string hint) => new(file, field, $"missing; {hint}");

    private static T Parse<T>((T Value, string Name)[] table, string text, string file, string field)
    {
        foreach (var (value, name) in table)
            if (string.Equals(name, text, StringComparison.OrdinalIgnoreCase)) return value;
        throw new BundleException(file, field, $"'{DisplayName(text)}' is not one of {string.Join(", ", table.Select(x => x.Name))}.");
    }
}
