using System.Runtime.CompilerServices;

namespace ContinualLearning.TestKit;

/// <summary>
/// A fact that needs a PostgreSQL server: skipped with a message when PostgreSQL is not installed, unless
/// CL_REQUIRE_POSTGRES=1 (set by .ci/run), where the test runs and <see cref="PostgresServer.StartAsync"/> fails it.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber) =>
        Skip = TestDependency.Postgres.SkipReason(PostgresServer.FindBinDirectory() is not null);
}
