using ContinualLearning.Aggregator.Registry;

namespace ContinualLearning.Tests.Registry;

/// <summary>The registry contract on SQLite: a registry directory per test; the second registry opens the same directory.</summary>
public sealed class SqliteRegistryContractTests : RegistryContractTests
{
    private readonly string _directory = Directory.CreateTempSubdirectory("cl-contract-sqlite-").FullName;

    protected override Task<ModelRegistry> CreateAsync(TimeProvider time) => Task.FromResult(ModelRegistry.Open(_directory, time));

    protected override Task<ModelRegistry> ReopenAsync(TimeProvider time) => Task.FromResult(ModelRegistry.Open(_directory, time));

    protected override Task CorruptArtifactAsync(ModelRegistry registry, string sha256, byte[] bytes) =>
        File.WriteAllBytesAsync(registry.Artifacts.PathOf(sha256), bytes);

    protected override ValueTask CleanUpAsync()
    {
        Directory.Delete(_directory, recursive: true);
        return ValueTask.CompletedTask;
    }
}
