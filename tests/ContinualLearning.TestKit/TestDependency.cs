using System.Diagnostics.CodeAnalysis;

namespace ContinualLearning.TestKit;

/// <summary>
/// Something a test needs from the machine that a developer may not have installed (a broker binary, a native
/// library). Absent, the test is reported <em>skipped</em> with what to install, never passed. When the environment
/// variable <see cref="RequireVariable"/> is <c>1</c> (.ci/run sets it, after installing the dependency) absence is
/// a failure instead, so CI cannot go green by skipping.
/// </summary>
public sealed class TestDependency
{
    private readonly Func<string, string?> _environment;

    /// <param name="name">What is needed, as a message names it ("Mosquitto").</param>
    /// <param name="requireVariable">The environment variable that, set to 1, makes absence a failure.</param>
    /// <param name="install">How to install it.</param>
    /// <param name="environment">Reads an environment variable (tests of this class pass their own).</param>
    internal TestDependency(string name, string requireVariable, string install, Func<string, string?>? environment = null)
    {
        Name = name;
        RequireVariable = requireVariable;
        Install = install;
        _environment = environment ?? Environment.GetEnvironmentVariable;
    }

    /// <summary>A Mosquitto binary, for the tests that must meet a real broker.</summary>
    public static TestDependency Mosquitto { get; } =
        new("Mosquitto", "CL_REQUIRE_MOSQUITTO", "sudo apt-get install mosquitto");

    /// <summary>A system BLAS with <c>cblas_sgemm</c>, for the GEMM backend that routes to it.</summary>
    public static TestDependency Blas { get; } =
        new("a BLAS library with cblas_sgemm", "CL_REQUIRE_BLAS", "Debian: sudo apt-get install libopenblas0");

    /// <summary>PostgreSQL's server programs (initdb, pg_ctl), for the registry tests on PostgreSQL.</summary>
    public static TestDependency Postgres { get; } =
        new("PostgreSQL", "CL_REQUIRE_POSTGRES", "sudo apt-get install postgresql-15");

    public string Name { get; }

    public string RequireVariable { get; }

    public string Install { get; }

    /// <summary>Whether <see cref="RequireVariable"/> is 1: absence fails the test instead of skipping it.</summary>
    public bool IsRequired => _environment(RequireVariable) == "1";

    /// <summary>
    /// Why a test needing this is skipped, or null when it must run: the dependency is there, or it is required (then
    /// the test runs and fails on what is missing). For <c>Skip</c> on a fact attribute, decided at discovery.
    /// </summary>
    public string? SkipReason(bool available) =>
        available || IsRequired ? null : $"{Name} is not installed ({Install}); set {RequireVariable}=1 to make this a failure.";

    /// <summary>
    /// The first line of a test once it knows whether the dependency is there: returns when it is; otherwise skips
    /// the test, or fails it when required.
    /// </summary>
    public void Require([DoesNotReturnIf(false)] bool available)
    {
        if (available) return;
        if (IsRequired) Assert.Fail($"{RequireVariable}=1 but {Name} is not installed: {Install}.");
        Assert.Skip(SkipReason(available)!);
    }
}
