using ContinualLearning.Aggregator.Registry;

namespace ContinualLearning.Tests.Registry;

/// <summary>
/// The registry contract on SQLite: a registry directory per test. A second registry opens the same directory, as a
/// second aggregator on the same host does (SQLite's registries are shared only through one filesystem).
/// </summary>
public sealed class SqliteRegistryContractTests : RegistryContractTests
{
    private readonly string _directory = Directory.CreateTempSubdirectory("cl-contract-sqlite-").FullName;

    protected override string ExpectedBackend => "sqlite";

    protected override Task<RegistryLocation> NewDatabaseAsync() => Task.FromResult(RegistryLocation.Sqlite(_directory));

    protected override RegistryLocation SameDatabase() => RegistryLocation.Sqlite(_directory);

    protected override Task CorruptArtifactAsync(ModelRegistry registry, string sha256, byte[] bytes) =>
        File.WriteAllBytesAsync(((FileArtifactStore)registry.Artifacts).PathOf(sha256), bytes);

    protected override ValueTask CleanUpAsync()
    {
        Directory.Delete(_directory, recursive: true);
        return ValueTask.CompletedTask;
    }
}
