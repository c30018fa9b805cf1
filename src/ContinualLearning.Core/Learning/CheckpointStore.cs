using System.Text;
using System.Text.Json;
using ContinualLearning.Bundle;
using ContinualLearning.IO;
using ContinualLearning.Tensors;

namespace ContinualLearning.Learning;

/// <summary>Which bundle directories (names under <c>versions/</c>) the model store points at.</summary>
public sealed record CheckpointPointer(string Champion, string? Previous, string Base, long LocalCounter);

/// <summary>
/// The device's persistent model store: champion, previous champion (for rollback) and base (the last global
/// release), each a full, hash-verified model bundle, plus the decision log.
/// <code>
/// &lt;dir&gt;/CURRENT                     {"champion":"000007-1.3.0-local.2","previous":"000005-1.3.0-local.1","base":"000004-1.3.0","localCounter":2}
/// &lt;dir&gt;/versions/000004-1.3.0/     manifest.json, head.safetensors[, backbone.onnx]   (immutable once written)
/// &lt;dir&gt;/versions/000007-…/
/// &lt;dir&gt;/decisions.jsonl           one PromotionDecision per line
/// </code>
/// </summary>
/// <remarks>
/// Crash safety: a version directory is written once, complete, with <see cref="ModelBundle.Save"/> (staging dir,
/// fsync, rename, fsync parent) and never modified. The only mutable state is CURRENT, replaced with
/// <see cref="AtomicFile.Write(string, ReadOnlySpan{byte})"/> (temp, fsync, rename, fsync dir). A state change is
/// therefore one atomic rename: before it the old pointer names old, complete directories; after it the new one does.
/// Directories that CURRENT does not name (a bundle written but not yet pointed at, or one being deleted) are garbage
/// and removed on open and after each commit. Not thread-safe: one writer (the learner) at a time.
/// </remarks>
public sealed class CheckpointStore
{
    public const string PointerFileName = "CURRENT";
    public const string VersionsDirectoryName = "versions";
    public const string DecisionLogFileName = "decisions.jsonl";

    private readonly string _versions;
    private readonly string _pointerPath;
    private readonly string _logPath;

    /// <summary>Opens (creating if needed) a model store and cleans up after any interrupted write.</summary>
    /// <exception cref="BundleException">CURRENT exists but is unreadable or names a missing directory.</exception>
    public CheckpointStore(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = Path.GetFullPath(directory);
        _versions = Path.Combine(Directory, VersionsDirectoryName);
        _pointerPath = Path.Combine(Directory, PointerFileName);
        _logPath = Path.Combine(Directory, DecisionLogFileName);
        System.IO.Directory.CreateDirectory(_versions);
        Current = ReadPointer();
        CollectGarbage();
    }

    /// <summary>Full path of the model store.</summary>
    public string Directory { get; }

    /// <summary>The committed state, or null for an empty store (nothing installed yet).</summary>
    public CheckpointPointer? Current { get; private set; }

    /// <summary>Full path of a version directory named by the pointer.</summary>
    public string PathOf(string versionDirectory) => Path.Combine(_versions, versionDirectory);

    /// <summary>Loads and verifies (hashes, schema, weights) the champion.</summary>
    public ModelBundle LoadChampion() => ModelBundle.Load(PathOf(RequireCurrent().Champion));

    /// <summary>Loads and verifies the base (last global release).</summary>
    public ModelBundle LoadBase() => ModelBundle.Load(PathOf(RequireCurrent().Base));

    /// <summary>Loads and verifies the previous champion, or returns null when there is none.</summary>
    public ModelBundle? LoadPrevious() => RequireCurrent().Previous is { } p ? ModelBundle.Load(PathOf(p)) : null;

    /// <summary>
    /// Installs a global release as base and champion (the old champion becomes previous). Keeps the release's
    /// signature: the bundle files are rewritten byte-identically, so its hashes — and what was signed — are unchanged.
    /// </summary>
    public ModelBundle InstallBase(ModelBundle release)
    {
        ArgumentNullException.ThrowIfNull(release);
        var dir = WriteVersion(release.Manifest, release.HeadWeights, release.BackbonePath, release.Manifest.Signature, release.StageFiles);
        Commit(new CheckpointPointer(dir, Current?.Champion, dir, 0));
        return ModelBundle.Load(PathOf(dir));
    }

    /// <summary>
    /// Installs a global release as base and, in the same atomic commit, <paramref name="championManifest"/> (a local
    /// version on top of it: the release plus the device's own classes) as champion; the old champion becomes previous.
    /// Returns the installed base and champion.
    /// </summary>
    public (ModelBundle Base, ModelBundle Champion) InstallBase(ModelBundle release, ModelManifest championManifest, IReadOnlyList<NamedTensor> championWeights)
    {
        ArgumentNullException.ThrowIfNull(release);
        ArgumentNullException.ThrowIfNull(championManifest);
        var baseDir = WriteVersion(release.Manifest, release.HeadWeights, release.BackbonePath, release.Manifest.Signature, release.StageFiles);
        var championDir = WriteVersion(championManifest, championWeights, release.BackbonePath, signature: null, release.StageFiles);
        Commit(new CheckpointPointer(championDir, Current?.Champion, baseDir, 1));
        return (ModelBundle.Load(PathOf(baseDir)), ModelBundle.Load(PathOf(championDir)));
    }

    /// <summary>Checkpoints a promoted challenger as the new champion; the old champion becomes previous.</summary>
    /// <param name="manifest">The champion's manifest with the new version (Files and Signature are recomputed; local versions are unsigned).</param>
    /// <param name="headWeights">The challenger's weights.</param>
    /// <param name="backbonePath">The backbone to copy in (the champion's), or null.</param>
    /// <param name="stageFiles">The input stages' files to copy in (the champion's <see cref="ModelBundle.StageFiles"/>), or null for a feature model.</param>
    public ModelBundle Promote(ModelManifest manifest, IReadOnlyList<NamedTensor> headWeights, string? backbonePath, IReadOnlyDictionary<string, string>? stageFiles = null)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var current = RequireCurrent();
        var dir = WriteVersion(manifest, headWeights, backbonePath, signature: null, stageFiles);
        Commit(new CheckpointPointer(dir, current.Champion, current.Base, current.LocalCounter + 1));
        return ModelBundle.Load(PathOf(dir));
    }

    /// <summary>
    /// Makes the previous champion the champion again and forgets the rolled-back one (so a second rollback cannot
    /// bring it back by accident). Returns the restored bundle, or null when there is no previous champion.
    /// </summary>
    public ModelBundle? Rollback()
    {
        var current = RequireCurrent();
        if (current.Previous is null) return null;
        var restored = ModelBundle.Load(PathOf(current.Previous));
        Commit(current with { Champion = current.Previous, Previous = null });
        return restored;
    }

    /// <summary>The number the next local promotion gets (see <see cref="LocalVersion"/>).</summary>
    public long NextLocalNumber => (Current?.LocalCounter ?? 0) + 1;

    /// <summary>Appends a decision as one JSON line and fsyncs it.</summary>
    public void AppendDecision(PromotionDecision decision)
    {
        ArgumentNullException.ThrowIfNull(decision);
        var line = JsonSerializer.SerializeToUtf8Bytes(decision, CheckpointJsonContext.Default.PromotionDecision);
        using var stream = new FileStream(_logPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        // A crash mid-append can leave a torn last line; start on a fresh line so the next record stays parseable.
        if (stream.Length > 0)
        {
            stream.Seek(-1, SeekOrigin.End);
            if (stream.ReadByte() != '\n') stream.WriteByte((byte)'\n');
        }
        stream.Seek(0, SeekOrigin.End);
        stream.Write(line);
        stream.WriteByte((byte)'\n');
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Reads the decision log, oldest first; a torn (unparseable) line from a crash is skipped.</summary>
    public IReadOnlyList<PromotionDecision> ReadDecisions()
    {
        var result = new List<PromotionDecision>();
        if (!File.Exists(_logPath)) return result;
        foreach (var line in File.ReadLines(_logPath, Encoding.UTF8))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                if (JsonSerializer.Deserialize(line, CheckpointJsonContext.Default.PromotionDecision) is { } d) result.Add(d);
            }
            catch (JsonException)
            {
            }
        }
        return result;
    }

    private CheckpointPointer RequireCurrent() =>
        Current ?? throw new InvalidOperationException($"Model store '{Directory}' is empty: install a global release first (InstallBase, or LearnerOptions.BaseBundlePath).");

    private string WriteVersion(ModelManifest manifest, IReadOnlyList<NamedTensor> weights, string? backbonePath, string? signature, IReadOnlyDictionary<string, string>? stageFiles)
    {
        var sequence = NextSequence();
        var safe = new string(manifest.Version.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '_').ToArray());
        var name = $"{sequence:D6}-{safe}";
        ModelBundle.Save(PathOf(name), manifest, weights, backbonePath, signature is null ? null : _ => signature, stageFiles: stageFiles);
        return name;
    }

    private long NextSequence()
    {
        long max = 0;
        foreach (var d in System.IO.Directory.EnumerateDirectories(_versions))
        {
            var leaf = Path.GetFileName(d);
            var dash = leaf.IndexOf('-', StringComparison.Ordinal);
            if (dash > 0 && long.TryParse(leaf.AsSpan(0, dash), out var n) && n > max) max = n;
        }
        return max + 1;
    }

    private void Commit(CheckpointPointer pointer)
    {
        var doc = new CheckpointPointerDocument
        {
            Champion = pointer.Champion,
            Previous = pointer.Previous,
            Base = pointer.Base,
            LocalCounter = pointer.LocalCounter,
        };
        AtomicFile.Write(_pointerPath, JsonSerializer.SerializeToUtf8Bytes(doc, CheckpointJsonContext.Default.CheckpointPointerDocument));
        Current = pointer;
        CollectGarbage();
    }

    private CheckpointPointer? ReadPointer()
    {
        if (!File.Exists(_pointerPath)) return null;
        CheckpointPointerDocument? doc;
        try
        {
            doc = JsonSerializer.Deserialize(File.ReadAllBytes(_pointerPath), CheckpointJsonContext.Default.CheckpointPointerDocument);
        }
        catch (JsonException e)
        {
            throw new BundleException($"Model store pointer '{_pointerPath}' is not valid JSON ({e.Message}). It is only ever replaced atomically, so this is outside damage: restore it or delete the model store to reinstall the base release.", e);
        }
        if (doc?.Champion is null || doc.Base is null)
            throw new BundleException($"Model store pointer '{_pointerPath}' lacks 'champion' or 'base'. Restore it or delete the model store to reinstall the base release.");
        foreach (var name in new[] { doc.Champion, doc.Base, doc.Previous })
        {
            if (name is null) continue;
            if (name.Contains('/', StringComparison.Ordinal) || name.Contains('\\', StringComparison.Ordinal) || name.StartsWith('.'))
                throw new BundleException($"Model store pointer '{_pointerPath}' names '{name}', which is not a version directory name.");
            if (!System.IO.Directory.Exists(PathOf(name)))
                throw new BundleException($"Model store pointer '{_pointerPath}' names version directory '{name}', which is missing from '{_versions}'. Restore it or delete the model store to reinstall the base release.");
        }
        return new CheckpointPointer(doc.Champion, doc.Previous, doc.Base, doc.LocalCounter);
    }

    /// <summary>Removes version directories CURRENT does not name (interrupted writes, superseded versions) and temp files.</summary>
    private void CollectGarbage()
    {
        var keep = new HashSet<string>(StringComparer.Ordinal);
        if (Current is { } c)
        {
            keep.Add(c.Champion);
            keep.Add(c.Base);
            if (c.Previous is not null) keep.Add(c.Previous);
        }
        var changed = false;
        foreach (var d in System.IO.Directory.EnumerateDirectories(_versions).ToArray())
        {
            if (keep.Contains(Path.GetFileName(d))) continue;
            System.IO.Directory.Delete(d, recursive: true);
            changed = true;
        }
        foreach (var f in System.IO.Directory.EnumerateFiles(Directory, "*" + AtomicFile.TempSuffix).ToArray())
            File.Delete(f);
        if (changed) AtomicFile.FsyncDirectory(_versions);
    }
}
