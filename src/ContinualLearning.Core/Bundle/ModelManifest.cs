using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using ContinualLearning.Training;

namespace ContinualLearning.Bundle;

/// <summary>
/// The contents of a bundle's manifest.json: identity and lineage, input schema, task, head architecture,
/// training defaults, file hashes and an optional signature. Immutable; build variants with <c>with</c>.
/// </summary>
/// <remarks>
/// JSON is camelCase; enums are camelCase strings ("softmaxCrossEntropy", "relu", "adam", "classification").
/// <see cref="CanonicalBytesForSigning"/> is the exact byte form a signer signs and a verifier re-computes.
/// </remarks>
public sealed partial record ModelManifest
{
    /// <summary>Manifest format version this build writes and the newest it reads.</summary>
    public const int CurrentFormatVersion = 1;
    /// <summary>File name of the manifest inside a bundle.</summary>
    public const string ManifestFileName = "manifest.json";
    /// <summary>File name of the head weights inside a bundle.</summary>
    public const string HeadFileName = "head.safetensors";
    /// <summary>File name of the optional frozen backbone inside a bundle.</summary>
    public const string BackboneFileName = "backbone.onnx";

    /// <summary>Model name: letters, digits, '.', '_' or '-' (it appears in MQTT topics and paths).</summary>
    public required string Name { get; init; }

    /// <summary>Semantic version "x.y.z[-pre]".</summary>
    public required string Version { get; init; }

    /// <summary>The version this one was derived from (fine-tuned or aggregated), or null for a root model.</summary>
    public string? ParentVersion { get; init; }

    /// <summary>Creation time, UTC.</summary>
    public required DateTime CreatedUtc { get; init; }

    /// <summary>The raw features the model consumes and how they are normalised.</summary>
    public required InputSchema InputSchema { get; init; }

    /// <summary>What the head predicts.</summary>
    public required TaskSpec Task { get; init; }

    /// <summary>Shape of the trainable head.</summary>
    public required HeadSpec Head { get; init; }

    /// <summary>Default training hyper-parameters.</summary>
    public TrainingDefaults Training { get; init; } = new();

    /// <summary>Bundle file name → lower-case hex SHA-256. Filled in by <see cref="ModelBundle.Save"/>.</summary>
    public IReadOnlyDictionary<string, string> Files { get; init; } = new SortedDictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Base64 signature over <see cref="CanonicalBytesForSigning"/>, or null when unsigned. Verified elsewhere.</summary>
    public string? Signature { get; init; }

    /// <summary>The parsed <see cref="Version"/>; valid after <see cref="Validate(string)"/>.</summary>
    public SemanticVersion SemanticVersion => SemanticVersion.Parse(Version);

    /// <summary>
    /// The bytes to sign: compact UTF-8 JSON of this manifest with "signature" set to null. Deterministic:
    /// fixed property order, files sorted by name (ordinal), shortest round-trip number formatting, no whitespace.
    /// </summary>
    public byte[] CanonicalBytesForSigning() =>
        JsonSerializer.SerializeToUtf8Bytes(ToDocument(this with { Signature = null }), ManifestJsonContext.Default.ManifestDocument);

    /// <summary>Human-readable (indented) manifest.json bytes.</summary>
    public byte[] ToJsonBytes() => JsonSerializer.SerializeToUtf8Bytes(ToDocument(this), IndentedContext.ManifestDocument);

    /// <summary>Parses and validates manifest.json bytes.</summary>
    /// <exception cref="BundleException">Malformed JSON (with line and position), a missing or invalid field (named, with its value).</exception>
    public static ModelManifest Parse(ReadOnlySpan<byte> utf8Json, string file = ManifestFileName)
    {
        ManifestDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(utf8Json, ManifestJsonContext.Default.ManifestDocument);
        }
        catch (JsonException e)
        {
            var field = e.Path?.TrimStart('$').TrimStart('.');
            throw new BundleException(file, string.IsNullOrEmpty(field) ? null : field,
                $"malformed JSON at line {(e.LineNumber ?? 0) + 1}, position {(e.BytePositionInLine ?? 0) + 1}: {Describe(e)}", e);
        }
        if (document is null)
            throw new BundleException(file, null, "the manifest is JSON 'null'; expected an object.");
        var manifest = FromDocument(document, file);
        manifest.Validate(file);
        return manifest;
    }

    /// <summary>Checks every field and the consistency between them.</summary>
    /// <exception cref="BundleException">The first problem found, naming the field and value.</exception>
    public void Validate(string file = ManifestFileName) => Validate(file, checkStageFiles: true);

    /// <summary>
    /// <see cref="Validate(string)"/>; without <paramref name="checkStageFiles"/> a stage file need not be listed in
    /// <see cref="Files"/> yet (<see cref="ModelBundle.Save"/> hashes the files it writes and checks again).
    /// </summary>
    internal void Validate(string file, bool checkStageFiles)
    {
        [DoesNotReturn]
        void Fail(string field, string message) => throw new BundleException(file, field, message);

        if (Name is null || !NamePattern().IsMatch(Name))
            Fail("name", $"'{Name}' is not a valid model name: use 1–128 letters, digits, '.', '_' or '-', starting with a letter or digit.");
        if (!SemanticVersion.TryParse(Version, out var version, out var versionError))
            Fail("version", $"{versionError}");
        if (ParentVersion is not null)
        {
            if (!SemanticVersion.TryParse(ParentVersion, out var parent, out var parentError))
                Fail("parentVersion", parentError);
            if (parent == version)
                Fail("parentVersion", $"'{ParentVersion}' equals the model's own version; a model cannot be its own parent.");
        }
        if (CreatedUtc.Kind != DateTimeKind.Utc)
            Fail("createdUtc", $"{CreatedUtc:O} is not UTC; write it with a trailing 'Z' (e.g. 2025-01-31T12:00:00Z).");

        if (InputSchema is null) Fail("inputSchema", "missing; give features (name, mean, std per feature).");
        InputSchemaManifest.Validate(InputSchema!, checkStageFiles ? Files : null, file);

        if (Head is null) Fail("head", "missing; give layerSizes, hiddenActivation and loss.");
        if (Head!.InputSize != InputSchema.HeadInputSize)
        {
            var source = InputSchema!.EmbeddingSize is null
                ? $"the {InputSchema.Features.Count} features of inputSchema.features"
                : $"inputSchema.embeddingSize {InputSchema.EmbeddingSize}";
            Fail("head.layerSizes[0]", $"head input size {Head.InputSize} does not match {source}.");
        }

        if (Task is null) Fail("task", "missing; give kind and labelNames (classification) or outputNames (regression).");
        if (Task!.Kind == TaskKind.Classification)
        {
            CheckNames(Task.LabelNames, "task.labelNames", 2, "labels");
            var labels = Task.LabelNames.Count;
            switch (Head.Loss)
            {
                case LossKind.SoftmaxCrossEntropy when Head.OutputSize != labels:
                    Fail("head.layerSizes", $"softmax cross-entropy needs one output per label: {labels} labels but the head has {Head.OutputSize} outputs.");
                    break;
                case LossKind.BinaryCrossEntropy when labels != 2 || Head.OutputSize != 1:
                    Fail("head.loss", $"binaryCrossEntropy classification needs exactly 2 labels and 1 output (P(label 1)); got {labels} labels and {Head.OutputSize} outputs. Use softmaxCrossEntropy for more labels.");
                    break;
                case LossKind.MeanSquaredError:
                    Fail("head.loss", "meanSquaredError is for regression; classification uses softmaxCrossEntropy or binaryCrossEntropy.");
                    break;
            }
        }
        else
        {
            CheckNames(Task.OutputNames, "task.outputNames", 1, "outputs");
            if (Head.Loss != LossKind.MeanSquaredError)
                Fail("head.loss", $"{LossName(Head.Loss)} is for classification; regression uses meanSquaredError.");
            if (Head.OutputSize != Task.OutputNames.Count)
                Fail("head.layerSizes", $"{Task.OutputNames.Count} output names but the head has {Head.OutputSize} outputs.");
        }

        if (Training?.Options is null) Fail("training", "missing.");
        try
        {
            Training!.Options.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            Fail($"training.{JsonNamingPolicy.CamelCase.ConvertName(e.ParamName ?? "")}", e.Message.Split(Environment.NewLine)[0]);
        }
        if (Training.BatchSize < 1)
            Fail("training.batchSize", $"{Training.BatchSize} must be ≥ 1.");

        if (Files is null) Fail("files", "missing; map each bundle file name to its SHA-256.");
        foreach (var (fileName, hash) in Files!)
        {
            if (!InputSchemaManifest.IsPlainFileName(fileName) || fileName == ManifestFileName)
                Fail($"files.{fileName}", $"'{fileName}' is not a plain bundle file name (no directories; the manifest does not hash itself).");
            if (hash is null || !Sha256Pattern().IsMatch(hash))
                Fail($"files.{fileName}", $"'{hash}' is not a SHA-256: expected 64 lower-case hex digits.");
        }
        if (Signature is not null && (Signature.Length == 0 || !Convert.TryFromBase64String(Signature, new byte[Signature.Length], out _)))
            Fail("signature", $"'{Truncate(Signature)}' is not valid base64; give base64 or null for an unsigned manifest.");

        void CheckNames(IReadOnlyList<string> list, string field, int min, string what)
        {
            if (list is null || list.Count < min)
                Fail(field, $"needs at least {min} {what}; got {list?.Count ?? 0}.");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < list!.Count; i++)
            {
                if (string.IsNullOrWhiteSpace(list[i])) Fail($"{field}[{i}]", $"'{list[i]}' is empty.");
                if (!seen.Add(list[i])) Fail($"{field}[{i}]", $"'{list[i]}' appears twice; names must be unique.");
            }
        }
    }

    /// <summary>System.Text.Json's message without its trailing "Path: … | LineNumber: …" (we report those) and with CLR type names made readable.</summary>
    private static string Describe(JsonException e)
    {
        var message = e.Message;
        var cut = message.IndexOf(" Path: ", StringComparison.Ordinal);
        if (cut >= 0) message = message[..cut];
        var type = TypeInMessage().Match(message);
        if (!type.Success) return message;
        var expected = type.Groups[1].Value switch
        {
            var t when t.Contains("Int32", StringComparison.Ordinal) && t.Contains("List", StringComparison.Ordinal) => "an array of integers",
            var t when t.Contains("String", StringComparison.Ordinal) && t.Contains("List", StringComparison.Ordinal) => "an array of strings",
            var t when t.Contains("Dictionary", StringComparison.Ordinal) => "an object of string values",
            var t when t.Contains("List", StringComparison.Ordinal) => "an array",
            var t when t.Contains("Int32", StringComparison.Ordinal) => "an integer",
            var t when t.Contains("Single", StringComparison.Ordinal) => "a number",
            var t when t.Contains("DateTime", StringComparison.Ordinal) => "an ISO-8601 UTC time string such as \"2025-01-31T12:00:00Z\"",
            var t when t.Contains("String", StringComparison.Ordinal) => "a string",
            _ => "an object",
        };
        return $"the value has the wrong type; expected {expected}.";
    }

    [GeneratedRegex("could not be converted to (\\S+)")]
    private static partial Regex TypeInMessage();

    internal static string Format(float value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";

    private static readonly ManifestJsonContext IndentedContext =
        new(new JsonSerializerOptions(ManifestJsonContext.Default.Options) { WriteIndented = true });

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Pattern();

    // ---- enum names on the wire ----

    private static readonly (LossKind Value, string Name)[] Losses =
        [(LossKind.SoftmaxCrossEntropy, "softmaxCrossEntropy"), (LossKind.BinaryCrossEntropy, "binaryCrossEntropy"), (LossKind.MeanSquaredError, "meanSquaredError")];

    private static readonly (Activation Value, string Name)[] Activations = [(Activation.Relu, "relu"), (Activation.None, "none")];

    private static readonly (OptimizerKind Value, string Name)[] Optimizers = [(OptimizerKind.Adam, "adam"), (OptimizerKind.Sgd, "sgd")];

    private static readonly (TaskKind Value, string Name)[] TaskKinds = [(TaskKind.Classification, "classification"), (TaskKind.Regression, "regression")];

    internal static string LossName(LossKind v) => Losses.First(x => x.Value == v).Name;

    private static T ParseEnum<T>((T Value, string Name)[] table, string? text, string file, string field)
    {
        foreach (var (value, name) in table)
            if (string.Equals(name, text, StringComparison.OrdinalIgnoreCase)) return value;
        throw new BundleException(file, field, text is null
            ? $"missing; expected one of {string.Join(", ", table.Select(x => x.Name))}."
            : $"'{text}' is not one of {string.Join(", ", table.Select(x => x.Name))}.");
    }

    // ---- document mapping ----

    private static ModelManifest FromDocument(ManifestDocument d, string file)
    {
        BundleException Missing(string field, string hint) => new(file, field, $"missing; {hint}");

        if (d.FormatVersion is { } fv && fv != CurrentFormatVersion)
            throw new BundleException(file, "formatVersion", $"{fv} is not supported; this runtime reads format version {CurrentFormatVersion}. Upgrade the runtime.");
        var schema = InputSchemaManifest.FromDocument(d.InputSchema ?? throw Missing("inputSchema", "give features (name, mean, std per feature)."), file);

        var task = d.Task ?? throw Missing("task", "give kind and labelNames or outputNames.");
        var kind = ParseEnum(TaskKinds, task.Kind, file, "task.kind");
        TaskSpec taskSpec;
        if (kind == TaskKind.Classification)
        {
            if (task.OutputNames is not null) throw new BundleException(file, "task.outputNames", "is for regression; a classification task lists labelNames.");
            taskSpec = TaskSpec.Classification((task.LabelNames ?? throw Missing("task.labelNames", "list the class names in index order.")).Select(n => n!).ToArray());
        }
        else
        {
            if (task.LabelNames is not null) throw new BundleException(file, "task.labelNames", "is for classification; a regression task lists outputNames.");
            taskSpec = TaskSpec.Regression((task.OutputNames ?? throw Missing("task.outputNames", "list the output names in output order.")).Select(n => n!).ToArray());
        }

        var head = d.Head ?? throw Missing("head", "give layerSizes, hiddenActivation and loss.");
        var sizes = head.LayerSizes ?? throw Missing("head.layerSizes", "give the layer sizes from input to output, e.g. [8, 32, 2].");
        var loss = ParseEnum(Losses, head.Loss, file, "head.loss");
        var activation = head.HiddenActivation is null ? Activation.Relu : ParseEnum(Activations, head.HiddenActivation, file, "head.hiddenActivation");
        HeadSpec headSpec;
        try
        {
            headSpec = new HeadSpec(sizes, loss, activation);
        }
        catch (ArgumentException e)
        {
            throw new BundleException(file, "head.layerSizes", $"[{string.Join(", ", sizes)}] is invalid: {e.Message.Split(" (Parameter")[0]}", e);
        }

        var defaults = new TrainingOptions();
        var t = d.Training ?? new TrainingDocument();
        var training = new TrainingDefaults
        {
            Options = new TrainingOptions
            {
                Optimizer = t.Optimizer is null ? defaults.Optimizer : ParseEnum(Optimizers, t.Optimizer, file, "training.optimizer"),
                LearningRate = t.LearningRate ?? defaults.LearningRate,
                Momentum = t.Momentum ?? defaults.Momentum,
                WeightDecay = t.WeightDecay ?? defaults.WeightDecay,
                Beta1 = t.Beta1 ?? defaults.Beta1,
                Beta2 = t.Beta2 ?? defaults.Beta2,
                Epsilon = t.Epsilon ?? defaults.Epsilon,
            },
            BatchSize = t.BatchSize ?? new TrainingDefaults().BatchSize,
        };

        return new ModelManifest
        {
            Name = d.Name ?? throw Missing("name", "give the model name, e.g. \"elec2\"."),
            Version = d.Version ?? throw Missing("version", "give a semantic version, e.g. \"1.0.0\"."),
            ParentVersion = d.ParentVersion,
            CreatedUtc = d.CreatedUtc ?? throw Missing("createdUtc", "give the creation time in UTC, e.g. \"2025-01-31T12:00:00Z\"."),
            InputSchema = schema,
            Task = taskSpec,
            Head = headSpec,
            Training = training,
            Files = d.Files ?? throw Missing("files", "map each bundle file to its SHA-256 (ModelBundle.Save fills this in)."),
            Signature = d.Signature,
        };
    }

    private static ManifestDocument ToDocument(ModelManifest m)
    {
        var o = m.Training.Options;
        return new ManifestDocument
        {
            FormatVersion = CurrentFormatVersion,
            Name = m.Name,
            Version = m.Version,
            ParentVersion = m.ParentVersion,
            CreatedUtc = m.CreatedUtc,
            InputSchema = InputSchemaManifest.ToDocument(m.InputSchema),
            Task = new TaskDocument
            {
                Kind = TaskKinds.First(x => x.Value == m.Task.Kind).Name,
                LabelNames = m.Task.Kind == TaskKind.Classification ? m.Task.LabelNames.Select(n => (string?)n).ToList() : null,
                OutputNames = m.Task.Kind == TaskKind.Regression ? m.Task.OutputNames.Select(n => (string?)n).ToList() : null,
            },
            Head = new HeadDocument
            {
                LayerSizes = m.Head.LayerSizes.ToList(),
                HiddenActivation = Activations.First(x => x.Value == m.Head.HiddenActivation).Name,
                Loss = LossName(m.Head.Loss),
            },
            Training = new TrainingDocument
            {
                Optimizer = Optimizers.First(x => x.Value == o.Optimizer).Name,
                LearningRate = o.LearningRate,
                Momentum = o.Momentum,
                WeightDecay = o.WeightDecay,
                Beta1 = o.Beta1,
                Beta2 = o.Beta2,
                Epsilon = o.Epsilon,
                BatchSize = m.Training.BatchSize,
            },
            // Sorted ordinally so the canonical form does not depend on insertion order.
            Files = new SortedDictionary<string, string>(m.Files.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal), StringComparer.Ordinal),
            Signature = m.Signature,
        };
    }
}
