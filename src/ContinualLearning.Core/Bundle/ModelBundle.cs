using System.Security.Cryptography;
using ContinualLearning.Features;
using ContinualLearning.IO;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Bundle;

/// <summary>
/// A validated model bundle: a directory holding <c>manifest.json</c>, <c>head.safetensors</c> and optionally
/// <c>backbone.onnx</c>. <see cref="Load"/> checks everything (hashes, schema, weights) before anything is served
/// or trained; <see cref="Save"/> writes a complete bundle atomically.
/// </summary>
public sealed class ModelBundle
{
    private ModelBundle(string directory, ModelManifest manifest, IReadOnlyList<NamedTensor> headWeights, string? backbonePath)
    {
        Directory = directory;
        StageFiles = manifest.InputSchema.StageFiles.Distinct(StringComparer.Ordinal)
            .ToDictionary(f => f, f => Path.Combine(directory, f), StringComparer.Ordinal);
        Manifest = manifest;
        HeadWeights = headWeights;
        BackbonePath = backbonePath;
        Features = new FeaturePipeline(manifest.InputSchema);
        Labels = manifest.Task.Kind == TaskKind.Classification ? new LabelMap(manifest.Task.LabelNames) : null;
    }

    /// <summary>Full path of the bundle directory.</summary>
    public string Directory { get; }

    /// <summary>The validated manifest.</summary>
    public ModelManifest Manifest { get; }

    /// <summary>Head weights in state_dict order (<see cref="HeadSpec.Parameters"/>), finite, shapes checked.</summary>
    public IReadOnlyList<NamedTensor> HeadWeights { get; }

    /// <summary>Full path of backbone.onnx, or null when the head reads the normalised features directly.</summary>
    public string? BackbonePath { get; }

    /// <summary>
    /// Full paths of the files the input stages run (manifest <c>inputSchema.stages</c>, op "onnx"), by bundle file
    /// name; verified against their hashes by <see cref="Load"/>. Empty for feature models.
    /// </summary>
    public IReadOnlyDictionary<string, string> StageFiles { get; }

    /// <summary>What the model's raw input is (features or audio).</summary>
    public Pipelines.InputKind InputKind => Manifest.InputSchema.Kind;

    /// <summary>Validation and normalisation of raw samples, shared by training and serving (no features for an audio model).</summary>
    public FeaturePipeline Features { get; }

    /// <summary>Label ↔ index mapping for classification; null for regression.</summary>
    public LabelMap? Labels { get; }

    /// <summary>The head's shape (from the manifest).</summary>
    public HeadSpec Head => Manifest.Head;

    /// <summary>Default optimiser settings (from the manifest).</summary>
    public TrainingOptions TrainingOptions => Manifest.Training.Options;

    /// <summary>Loads and fully validates a bundle directory.</summary>
    /// <exception cref="BundleException">
    /// Anything wrong: missing file, malformed JSON (line/position), missing or invalid field, SHA-256 mismatch,
    /// safetensors format violation or unsupported dtype, weights that do not fit the head, non-finite weights.
    /// <see cref="BundleException.File"/> is the full path of the file at fault.
    /// </exception>
    public static ModelBundle Load(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var dir = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(dir))
            throw new BundleException(dir, null, "bundle directory not found.");

        var manifestPath = Path.Combine(dir, ModelManifest.ManifestFileName);
        var manifest = ModelManifest.Parse(ReadRequired(manifestPath, null), manifestPath);

        if (!manifest.Files.ContainsKey(ModelManifest.HeadFileName))
            throw new BundleException(manifestPath, "files", $"does not list {ModelManifest.HeadFileName}; every bundle has head weights.");
        var hasBackbone = manifest.Files.ContainsKey(ModelManifest.BackboneFileName);
        var backbonePath = Path.Combine(dir, ModelManifest.BackboneFileName);
        if (!hasBackbone && File.Exists(backbonePath))
            throw new BundleException(backbonePath, "files", $"{ModelManifest.BackboneFileName} is present but not listed (with its SHA-256) in manifest.json; an unhashed backbone cannot be trusted. Re-save the bundle.");
        CheckEmbedding(manifest, hasBackbone, manifestPath);

        byte[]? headBytes = null;
        foreach (var (name, expected) in manifest.Files)
        {
            var path = Path.Combine(dir, name);
            string actual;
            if (name == ModelManifest.HeadFileName)
            {
                // Hash and parse the same bytes, so what is validated is what was hashed.
                headBytes = ReadRequired(path, $"files.{name}");
                actual = Convert.ToHexStringLower(SHA256.HashData(headBytes));
            }
            else
            {
                if (!File.Exists(path))
                    throw new BundleException(path, $"files.{name}", "listed in manifest.json but the file is missing from the bundle directory.");
                using var stream = File.OpenRead(path);
                actual = Convert.ToHexStringLower(SHA256.HashData(stream));
            }
            if (actual != expected)
                throw new BundleException(path, $"files.{name}",
                    $"SHA-256 mismatch: manifest.json expects {expected} but the file hashes to {actual}. The file was modified or corrupted; re-fetch the bundle.");
        }

        var headPath = Path.Combine(dir, ModelManifest.HeadFileName);
        var content = SafeTensors.Read(headBytes!, headPath);
        var weights = CheckHeadWeights(manifest.Head, content.Tensors, headPath);
        return new ModelBundle(dir, manifest, weights, hasBackbone ? backbonePath : null);
    }

    /// <summary>
    /// Writes a complete bundle to <paramref name="directory"/> and returns the manifest as written (with file
    /// hashes, and the signature <paramref name="sign"/> returned for it). The manifest's own Files and Signature
    /// are ignored: they are recomputed for the files actually written.
    /// </summary>
    /// <remarks>
    /// Crash safety: the bundle is built in a hidden sibling staging directory, every file fsynced, then renamed into
    /// place and the parent fsynced, so <paramref name="directory"/> never holds a partial bundle. Replacing an
    /// existing bundle renames it aside first (two renames); a crash between them leaves the old bundle in
    /// <c>.{name}.*.old</c>, which <see cref="RecoverInterruptedSave"/> puts back.
    /// </remarks>
    /// <param name="directory">The bundle directory to create (or replace, with <paramref name="overwrite"/>).</param>
    /// <param name="manifest">Everything but Files and Signature; validated first.</param>
    /// <param name="headWeights">Head weights, any order; checked against <see cref="ModelManifest.Head"/>.</param>
    /// <param name="backboneOnnxPath">An ONNX file to copy in as backbone.onnx, or null for a head-only bundle.</param>
    /// <param name="sign">Receives the final manifest (hashes filled, signature null) and returns a base64 signature over its <see cref="ModelManifest.CanonicalBytesForSigning"/>, or null.</param>
    /// <param name="overwrite">Replace an existing non-empty bundle directory.</param>
    /// <param name="stageFiles">
    /// The files the manifest's stages run (bundle file name → source path), copied in and hashed like the backbone;
    /// exactly the manifest's stage files (pass <see cref="StageFiles"/> of the bundle a new version derives from).
    /// </param>
    public static ModelManifest Save(string directory, ModelManifest manifest, IReadOnlyList<NamedTensor> headWeights,
        string? backboneOnnxPath = null, Func<ModelManifest, string?>? sign = null, bool overwrite = false,
        IReadOnlyDictionary<string, string>? stageFiles = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(headWeights);
        manifest.Validate(ModelManifest.ManifestFileName, checkStageFiles: false);
        CheckEmbedding(manifest, backboneOnnxPath is not null, ModelManifest.ManifestFileName);
        if (backboneOnnxPath is not null && !File.Exists(backboneOnnxPath))
            throw new FileNotFoundException($"Backbone '{backboneOnnxPath}' not found.", backboneOnnxPath);
        var stages = CheckStageSources(manifest, stageFiles);
        var ordered = CheckHeadWeights(manifest.Head, headWeights, ModelManifest.HeadFileName);

        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        var parent = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{directory}' has no parent directory.", nameof(directory));
        var leaf = Path.GetFileName(full);
        if (System.IO.Directory.Exists(full) && !overwrite && System.IO.Directory.EnumerateFileSystemEntries(full).Any())
            throw new IOException($"Bundle directory '{full}' already exists and is not empty; bundles are immutable by default. Pass overwrite: true to replace it, or save under a new version.");
        System.IO.Directory.CreateDirectory(parent);

        var id = Guid.NewGuid().ToString("N");
        var staging = Path.Combine(parent, $".{leaf}.{id}.staging");
        System.IO.Directory.CreateDirectory(staging);
        try
        {
            var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
            var headBytes = SafeTensors.Write(ordered);
            WriteDurable(Path.Combine(staging, ModelManifest.HeadFileName), s => s.Write(headBytes));
            files[ModelManifest.HeadFileName] = Convert.ToHexStringLower(SHA256.HashData(headBytes));
            if (backboneOnnxPath is not null)
                files[ModelManifest.BackboneFileName] = CopyHashed(backboneOnnxPath, Path.Combine(staging, ModelManifest.BackboneFileName));
            foreach (var (name, source) in stages)
                files[name] = CopyHashed(source, Path.Combine(staging, name));

            var final = manifest with { Files = files, Signature = null };
            if (sign is not null) final = final with { Signature = sign(final) };
            final.Validate();
            var manifestBytes = final.ToJsonBytes();
            WriteDurable(Path.Combine(staging, ModelManifest.ManifestFileName), s => s.Write(manifestBytes));
            AtomicFile.FsyncDirectory(staging);

            if (System.IO.Directory.Exists(full))
            {
                var old = Path.Combine(parent, $".{leaf}.{id}.old");
                System.IO.Directory.Move(full, old);
                System.IO.Directory.Move(staging, full);
                AtomicFile.FsyncDirectory(parent);
                System.IO.Directory.Delete(old, recursive: true);
            }
            else
            {
                System.IO.Directory.Move(staging, full);
                AtomicFile.FsyncDirectory(parent);
            }
            return final;
        }
        catch
        {
            if (System.IO.Directory.Exists(staging))
                System.IO.Directory.Delete(staging, recursive: true);
            throw;
        }
    }

    /// <summary>
    /// Cleans up after a <see cref="Save"/> interrupted by a crash: removes staging directories and, if the bundle
    /// directory is missing but a set-aside previous version exists, moves it back. Returns true if anything changed.
    /// </summary>
    public static bool RecoverInterruptedSave(string directory)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        var parent = Path.GetDirectoryName(full);
        if (parent is null || !System.IO.Directory.Exists(parent)) return false;
        var leaf = Path.GetFileName(full);
        var changed = false;
        foreach (var staging in System.IO.Directory.EnumerateDirectories(parent, $".{leaf}.*.staging").ToArray())
        {
            System.IO.Directory.Delete(staging, recursive: true);
            changed = true;
        }
        var olds = System.IO.Directory.EnumerateDirectories(parent, $".{leaf}.*.old").ToArray();
        if (!System.IO.Directory.Exists(full) && olds.Length == 1)
        {
            System.IO.Directory.Move(olds[0], full);
            changed = true;
        }
        else
        {
            // The rename into place completed, so the set-aside copy is garbage.
            foreach (var old in olds.Where(_ => System.IO.Directory.Exists(full)))
            {
                System.IO.Directory.Delete(old, recursive: true);
                changed = true;
            }
        }
        if (changed) AtomicFile.FsyncDirectory(parent);
        return changed;
    }

    /// <summary>
    /// Checks weights against a head architecture — every parameter present once with its shape, nothing extra,
    /// all values finite — and returns them in state_dict order.
    /// </summary>
    /// <exception cref="BundleException">Names the tensor (and the index of a non-finite value).</exception>
    public static IReadOnlyList<NamedTensor> CheckHeadWeights(HeadSpec spec, IReadOnlyList<NamedTensor> weights, string file)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(weights);
        var byName = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        foreach (var w in weights)
            if (!byName.TryAdd(w.Name, w))
                throw new BundleException(file, w.Name, "tensor appears twice.");
        var expected = spec.Parameters().ToArray();
        var ordered = new NamedTensor[expected.Length];
        for (var p = 0; p < expected.Length; p++)
        {
            var (name, shape) = expected[p];
            if (!byName.Remove(name, out var tensor))
                throw new BundleException(file, name,
                    $"tensor missing: head {spec} needs [{string.Join(", ", shape)}] weights named {string.Join(", ", expected.Select(e => e.Name))}; the file has {string.Join(", ", weights.Select(w => w.Name))}.");
            if (!tensor.Shape.SequenceEqual(shape))
                throw new BundleException(file, name,
                    $"shape [{string.Join(", ", tensor.Shape)}] does not match head {spec}, which needs [{string.Join(", ", shape)}] (Linear weights are [out, in]).");
            var data = tensor.Data;
            for (var i = 0; i < data.Length; i++)
                if (!float.IsFinite(data[i]))
                    throw new BundleException(file, name,
                        $"value at index {i} is {ModelManifest.Format(data[i])}; weights must be finite. The model diverged or the file is corrupt — do not deploy it.");
            ordered[p] = tensor;
        }
        if (byName.Count > 0)
        {
            var extra = byName.Keys.Order(StringComparer.Ordinal).ToArray();
            throw new BundleException(file, extra[0],
                $"unexpected tensor(s) {string.Join(", ", extra)}: head {spec} has only {string.Join(", ", expected.Select(e => e.Name))}. The weights belong to a different architecture.");
        }
        return ordered;
    }

    /// <summary>The stage files to copy, in name order; each manifest stage file needs a source, and nothing else is copied.</summary>
    private static SortedDictionary<string, string> CheckStageSources(ModelManifest manifest, IReadOnlyDictionary<string, string>? sources)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in manifest.InputSchema.StageFiles)
        {
            if (sources is null || !sources.TryGetValue(name, out var source))
                throw new ArgumentException($"The manifest's stage file '{name}' has no source: pass it in stageFiles (bundle file name → path), e.g. the StageFiles of the bundle this version derives from.", nameof(sources));
            if (!File.Exists(source))
                throw new FileNotFoundException($"Stage file '{name}' not found at '{source}'.", source);
            result[name] = source;
        }
        foreach (var name in sources?.Keys ?? [])
            if (!result.ContainsKey(name))
                throw new ArgumentException($"stageFiles has '{name}', which no stage of the manifest runs; remove it or add an onnx stage for it.", nameof(sources));
        return result;
    }

    private static string CopyHashed(string source, string destination)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        WriteDurable(destination, s =>
        {
            using var input = File.OpenRead(source);
            var buffer = new byte[81920];
            int n;
            while ((n = input.Read(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                s.Write(buffer, 0, n);
            }
        });
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static void CheckEmbedding(ModelManifest manifest, bool hasBackbone, string file)
    {
        if (manifest.InputSchema.Kind == Pipelines.InputKind.Audio)
        {
            // The stages are the backbone of an audio model; embeddingSize is required by validation.
            if (hasBackbone)
                throw new BundleException(file, "files", $"an audio model runs its inputSchema.stages; {ModelManifest.BackboneFileName} is for feature models. Remove it, or add it as an onnx stage.");
            return;
        }
        var embedding = manifest.InputSchema.EmbeddingSize;
        if (hasBackbone && embedding is null)
            throw new BundleException(file, "inputSchema.embeddingSize", "missing: the bundle has a backbone, so give its output width (the head's input size).");
        if (!hasBackbone && embedding is not null)
            throw new BundleException(file, "inputSchema.embeddingSize", $"{embedding} is set but the bundle has no {ModelManifest.BackboneFileName}; remove it or add the backbone.");
    }

    private static byte[] ReadRequired(string path, string? field)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (FileNotFoundException e)
        {
            throw new BundleException(path, field, "file not found in the bundle directory.", e);
        }
    }

    private static void WriteDurable(string path, Action<Stream> write)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920);
        write(stream);
        stream.Flush(flushToDisk: true);
    }
}
