// Build script: `dotnet tool restore`, then `dotnet cake --target=<Target>`.
// Targets: Clean, Restore, Build, UnitTest, IntegrationTest, Test (default), Bench, Publish.
// Options: --configuration=Release|Debug, --runtimes=linux-x64,linux-arm64, --bench-filter='*Gemm*'.

var target = Argument("target", "Test");
var configuration = Argument("configuration", "Release");
var runtimes = Argument("runtimes", "linux-x64,linux-arm64").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
var benchFilter = Argument("bench-filter", "*");
var solution = "./ContinualLearning.sln";
var artifacts = Directory("./artifacts");

Task("Clean")
    .Does(() =>
{
    CleanDirectory(artifacts);
    DotNetClean(solution, new DotNetCleanSettings { Configuration = configuration });
});

Task("Restore")
    .Does(() => DotNetRestore(solution));

Task("Build")
    .IsDependentOn("Restore")
    .Does(() =>
{
    DotNetBuild(solution, new DotNetBuildSettings { Configuration = configuration, NoRestore = true });
});

Task("UnitTest")
    .IsDependentOn("Build")
    .Does(() =>
{
    DotNetTest("./tests/ContinualLearning.UnitTests/ContinualLearning.UnitTests.csproj", new DotNetTestSettings
    {
        Configuration = configuration, NoBuild = true, NoRestore = true,
        Loggers = new[] { "console;verbosity=normal" },
    });
});

// Needs a Mosquitto binary on PATH (.ci/run installs it); the fixture starts its own broker on a free loopback port.
Task("IntegrationTest")
    .IsDependentOn("Build")
    .Does(() =>
{
    DotNetTest("./tests/ContinualLearning.Tests/ContinualLearning.Tests.csproj", new DotNetTestSettings
    {
        Configuration = configuration, NoBuild = true, NoRestore = true,
        Loggers = new[] { "console;verbosity=normal" },
    });
});

Task("Test")
    .IsDependentOn("UnitTest")
    .IsDependentOn("IntegrationTest");

Task("Bench")
    .Does(() =>
{
    DotNetRun("./benchmarks/ContinualLearning.Benchmarks/ContinualLearning.Benchmarks.csproj",
        new ProcessArgumentBuilder().Append("--filter").AppendQuoted(benchFilter),
        new DotNetRunSettings { Configuration = "Release" });
});

// Self-contained `cl` for each runtime. On linux-arm64 there is no libtorch: the managed engine is used.
Task("Publish")
    .IsDependentOn("Restore")
    .Does(() =>
{
    foreach (var rid in runtimes)
    {
        DotNetPublish("./src/ContinualLearning.Cli/ContinualLearning.Cli.csproj", new DotNetPublishSettings
        {
            Configuration = configuration,
            Runtime = rid,
            SelfContained = true,
            OutputDirectory = artifacts + Directory("publish") + Directory(rid),
        });
        Information($"Published cl for {rid} to {artifacts}/publish/{rid}");
    }
});

RunTarget(target);
