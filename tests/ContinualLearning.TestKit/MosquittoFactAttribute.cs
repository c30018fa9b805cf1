using System.Runtime.CompilerServices;

namespace ContinualLearning.TestKit;

/// <summary>
/// A fact that needs Mosquitto: skipped with a message when Mosquitto is not installed, unless CL_REQUIRE_MOSQUITTO=1
/// (set by .ci/run), where the test runs and <see cref="MosquittoBroker.StartAsync"/> fails it.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class MosquittoFactAttribute : FactAttribute
{
    public MosquittoFactAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber) =>
        Skip = TestDependency.Mosquitto.SkipReason(MosquittoBroker.FindExecutable() is not null);
}
