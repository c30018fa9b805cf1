using ContinualLearning.Bundle;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Training;

namespace ContinualLearning.Cli.Simulation;

/// <summary>
/// `cl simulate init DIR`: what a simulated fleet needs before the aggregator starts — a small tabular seed bundle (16
/// features, head 16→32→2, the shape of the aggregator throughput benchmark) and a release key pair.
/// </summary>
internal static class SimulationSetup
{
    public static IEnumerable<string> Create(string directory, string model)
    {
        if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
            throw new ArgumentException($"'{Text.DisplayText.Truncate(directory, 200)}' is not empty: give a new directory for the seed bundle and keys.");
        Directory.CreateDirectory(directory);
        var head = new HeadSpec([16, 32, 2], LossKind.SoftmaxCrossEntropy);
        var manifest = new ModelManifest
        {
            Name = model,
            Version = "1.0.0",
            CreatedUtc = DateTime.UtcNow,
            InputSchema = new InputSchema(Enumerable.Range(0, 16).Select(i => new FeatureSpec($"x{i}", 0, 1)).ToArray()),
            Task = TaskSpec.Classification("0", "1"),
            Head = head,
        };
        var seed = Path.Combine(directory, "seed");
        ModelBundle.Save(seed, manifest, HeadInitializer.Initialize(head, 1));
        Directory.CreateDirectory(Path.Combine(directory, "registry"));
        using (var key = ReleaseKeys.Generate()) ReleaseKeys.Save(key, Path.Combine(directory, "release.key"), Path.Combine(directory, "release.pub"));
        yield return $"seed bundle {model} 1.0.0 in {seed}; release.key and release.pub in {directory}; an empty registry directory {Path.Combine(directory, "registry")}";
        yield return "next: start the broker and the aggregator (docs/scale.md), then:";
        yield return $"  cl model publish {seed} --registry {Path.Combine(directory, "registry")} --key {Path.Combine(directory, "release.key")} --broker HOST:PORT --fleet FLEET";
        yield return $"  cl simulate --devices N --release-key {Path.Combine(directory, "release.pub")} --model {model} --registry {Path.Combine(directory, "registry")} --broker HOST:PORT --fleet FLEET";
    }
}
