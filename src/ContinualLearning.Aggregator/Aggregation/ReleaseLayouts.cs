using ContinualLearning.Aggregator.Registry;

namespace ContinualLearning.Aggregator.Aggregation;

/// <summary>
/// The <see cref="OutputLayout"/> of each registry version, loaded from its bundle once: a delta is checked against the
/// labels of the release it was trained from, and a version's bundle never changes, so the cache needs no invalidation.
/// Bounded, since devices name the versions.
/// </summary>
internal sealed class ReleaseLayouts(ModelRegistry registry, string modelName)
{
    private const int MaxCached = 64;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, OutputLayout> _cache = new(StringComparer.Ordinal);

    /// <summary>The layout of <paramref name="version"/>, or null when the registry does not hold it or no longer holds its bundle.</summary>
    public OutputLayout? Of(string version)
    {
        lock (_lock)
            if (_cache.TryGetValue(version, out var cached)) return cached;
        var record = registry.GetVersion(modelName, version);
        if (record is null) return null;
        OutputLayout layout;
        try
        {
            layout = OutputLayout.Of(RegistryModels.Load(registry, record).Bundle.Manifest);
        }
        catch (FileNotFoundException)
        {
            // The retention sweep removed the bundle of an old version (retention:keepVersions).
            return null;
        }
        lock (_lock)
        {
            if (_cache.Count >= MaxCached) _cache.Clear();
            _cache[version] = layout;
        }
        return layout;
    }
}
