using System.Text.Json;
using ContinualLearning.Bundle;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Tensors;

namespace ContinualLearning.Aggregator.Registry;

/// <summary>A registry version with its bundle loaded (extracted from the artifact and fully validated).</summary>
public sealed record LoadedModel(ModelVersionRecord Record, ModelBundle Bundle, byte[] Container);

/// <summary>Bundle-level operations on the registry: import a bundle directory, load a version's bundle, build a child version.</summary>
public static class RegistryModels
{
    /// <summary>Directory under the registry where artifacts are extracted, one subdirectory per SHA-256.</summary>
    internal const string CacheDirectoryName = "cache";

    /// <summary>
    /// Registers a bundle directory as a version (name and version from its manifest) with <paramref name="status"/>,
    /// storing its container as an artifact. Used by <c>cl model publish</c> to seed the first global model.
    /// </summary>
    public static LoadedModel Import(ModelRegistry registry, string bundleDirectory, string status)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var bundle = ModelBundle.Load(bundleDirectory);
        var container = BundlePackager.Pack(bundleDirectory);
        var sha = registry.Artifacts.Put(container);
        var m = bundle.Manifest;
        var record = new ModelVersionRecord
        {
            Name = m.Name,
            Version = m.Version,
            Parent = m.ParentVersion,
            Created = registry.Time.GetUtcNow(),
            Status = status,
            ArtifactSha256 = sha,
            MetricsJson = "{\"source\":" + JsonSerializer.Serialize(Path.GetFullPath(bundleDirectory), RegistryJson.Default.String) + "}",
        };
        registry.AddVersion(record);
        return new LoadedModel(registry.GetVersion(m.Name, m.Version)!, bundle, container);
    }

    /// <summary>Loads a version's bundle: extracts the artifact once into {registry}/cache/{sha}/ and validates it.</summary>
    public static LoadedModel Load(ModelRegistry registry, ModelVersionRecord record)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(record);
        var container = registry.Artifacts.Read(record.ArtifactSha256);
        var dir = Path.Combine(registry.Directory, CacheDirectoryName, record.ArtifactSha256);
        if (!Directory.Exists(dir))
        {
            var staging = dir + "." + Guid.NewGuid().ToString("N") + ".tmp";
            BundlePackager.Extract(container, staging);
            try
            {
                Directory.Move(staging, dir);
                // The rename itself must survive a power cut, or the cache holds a name without its files.
                ContinualLearning.IO.AtomicFile.FsyncDirectory(Path.GetDirectoryName(dir)!);
            }
            catch (IOException) when (Directory.Exists(dir))
            {
                // Another instance extracted the same artifact first; same content by construction.
                Directory.Delete(staging, recursive: true);
            }
        }
        return new LoadedModel(record, ModelBundle.Load(dir), container);
    }

    /// <summary>
    /// Writes a child bundle from <paramref name="manifest"/> (the parent's, or one whose head grew by new classes) with
    /// new weights and version, created at <paramref name="createdUtc"/>, and returns its container.
    /// <paramref name="sameModel"/> false builds the first version of another model (a cluster's): its parent is then
    /// recorded by the registry (<see cref="ClusterStore"/>), not as the manifest's parent version, which names a version of the same model.
    /// </summary>
    public static byte[] BuildChild(ModelBundle parent, ModelManifest manifest, string version, IReadOnlyList<NamedTensor> weights, string scratchDirectory, DateTime createdUtc, bool sameModel = true)
    {
        ArgumentNullException.ThrowIfNull(parent);
        ArgumentNullException.ThrowIfNull(manifest);
        manifest = manifest with { Version = version, ParentVersion = sameModel ? parent.Manifest.Version : null, CreatedUtc = createdUtc, Signature = null };
        var dir = Path.Combine(scratchDirectory, "build-" + Guid.NewGuid().ToString("N"));
        try
        {
            ModelBundle.Save(dir, manifest, weights, parent.BackbonePath, stageFiles: parent.StageFiles);
            return BundlePackager.Pack(dir);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
