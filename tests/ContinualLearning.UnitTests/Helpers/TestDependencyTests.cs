using Xunit.Sdk;

namespace ContinualLearning.UnitTests.Helpers;

/// <summary>The rule for tests whose dependency may be absent: skipped on a developer's machine, a failure in CI.</summary>
public sealed class TestDependencyTests
{
    private static TestDependency Broker(string? requireValue) =>
        new("Broker", "CL_REQUIRE_BROKER", "apt-get install broker", name => name == "CL_REQUIRE_BROKER" ? requireValue : null);

    [Fact]
    public void Absent_and_not_required_is_a_skip_saying_what_to_install()
    {
        var reason = Broker(null).SkipReason(available: false);
        Assert.Equal("Broker is not installed (apt-get install broker); set CL_REQUIRE_BROKER=1 to make this a failure.", reason);
        var skip = CaughtSkip(() => Broker("0").Require(false));
        Assert.NotNull(skip);
        Assert.Contains("apt-get install broker", skip.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Absent_and_required_is_a_failure()
    {
        var dependency = Broker("1");
        Assert.True(dependency.IsRequired);
        Assert.Null(dependency.SkipReason(available: false)); // the test runs, and fails on what is missing
        Assert.Null(CaughtSkip(() => dependency.Require(false), swallowOthers: true));
        var ex = Assert.ThrowsAny<XunitException>(() => dependency.Require(false));
        Assert.Equal("CL_REQUIRE_BROKER=1 but Broker is not installed: apt-get install broker.", ex.Message);
    }

    [Fact]
    public void Present_runs_the_test_whatever_the_variable_says()
    {
        foreach (var value in new[] { null, "0", "1" })
        {
            Assert.Null(Broker(value).SkipReason(available: true));
            Broker(value).Require(true);
        }
    }

    /// <summary>
    /// The skip <paramref name="action"/> threw, or null. Caught by hand: xunit's Assert.Throws and Record.Exception
    /// let a skip through, so the test itself would be reported skipped.
    /// </summary>
    private static SkipException? CaughtSkip(Action action, bool swallowOthers = false)
    {
        try
        {
            action();
        }
        catch (SkipException skip)
        {
            return skip;
        }
        catch (XunitException) when (swallowOthers)
        {
        }

        return null;
    }
}
