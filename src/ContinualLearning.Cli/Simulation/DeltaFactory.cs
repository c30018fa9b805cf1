using System.Collections.Concurrent;
using ContinualLearning.Bundle;
using ContinualLearning.Deltas;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Tensors;

namespace ContinualLearning.Cli.Simulation;

/// <summary>
/// The learning stand-in (<see cref="SimulationOptions.LearningNote"/>): a delta is seeded noise shaped like the installed
/// head, encoded with the real <see cref="DeltaCompressor"/> (dense int8, as devices send by default) and
/// <see cref="DeltaCodec"/>. The head's tensor names and shapes come from the release bundle itself, extracted and loaded
/// once per version per process.
/// </summary>
internal sealed class DeltaFactory(string model, string stateDirectory)
{
    private readonly ConcurrentDictionary<string, Lazy<(string Name, int[] Shape)[]>> _heads = new(StringComparer.Ordinal);

    /// <summary>Records the head layout of <paramref name="version"/> from its verified bundle container (once per version).</summary>
    public void Learn(string version, byte[] container) =>
        _ = _heads.GetOrAdd(version, v => new Lazy<(string, int[])[]>(() => Load(v, container), LazyThreadSafetyMode.ExecutionAndPublication)).Value;

    /// <summary>Extracts and loads a bundle the way a device installs it; throws when it is not a loadable bundle.</summary>
    public static ModelBundle ExtractAndLoad(byte[] container, string target)
    {
        if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
        BundlePackager.Extract(container, target);
        return ModelBundle.Load(target);
    }

    /// <summary>An encoded delta from <paramref name="deviceId"/> against <paramref name="baseVersion"/>.</summary>
    public (Guid Id, byte[] Payload) Create(string deviceId, string baseVersion, Random random)
    {
        if (!_heads.TryGetValue(baseVersion, out var head)) throw new InvalidOperationException($"No head layout for version {baseVersion}: the device installed it without this process learning it.");
        var dense = head.Value.Select(p =>
        {
            var values = new float[p.Shape.Aggregate(1, (a, b) => a * b)];
            for (var i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() - 0.5) * 0.02f;
            return new NamedTensor(p.Name, p.Shape, values);
        }).ToArray();
        var id = Guid.NewGuid();
        var header = new DeltaHeader(model, baseVersion, deviceId, id, random.Next(16, 65), new Dictionary<string, double>(), DateTimeOffset.UtcNow);
        return (id, DeltaCodec.Encode(new WeightDelta(header, DeltaCompressor.Compress(dense, DeltaCompressionOptions.DenseInt8))));
    }

    private (string Name, int[] Shape)[] Load(string version, byte[] container)
    {
        var target = Path.Combine(stateDirectory, "heads", version);
        var bundle = ExtractAndLoad(container, target);
        var layout = bundle.HeadWeights.Select(w => (w.Name, w.Shape.ToArray())).ToArray();
        Directory.Delete(target, recursive: true);
        return layout;
    }
}
