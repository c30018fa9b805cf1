using ContinualLearning.Aggregator.Console;

namespace ContinualLearning.Cli.Demo;

/// <summary>
/// <c>cl demo --console</c>: an operator token for the demo (its SHA-256 in a token file, the token itself printed
/// once), and after the scenario the fleet kept running with the console's URL on screen until Ctrl+C.
/// </summary>
internal static class DemoFleetConsole
{
    public const string OperatorName = "demo-operator";

    /// <summary>The console's options and the operator token, or (null, null) without <c>--console</c>.</summary>
    public static (ConsoleOptions? Options, string? Token) Prepare(DemoOptions options, string keysDirectory)
    {
        if (options.Console is not { } listen) return (null, null);
        var token = OperatorAuth.NewToken();
        var tokenFile = Path.Combine(keysDirectory, "operators");
        File.WriteAllText(tokenFile, $"{OperatorName}:{OperatorAuth.Hash(token)}\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return (new ConsoleOptions
        {
            Listen = listen,
            OperatorTokenFile = tokenFile,
            // The demo's devices trust the operator key, so commands from the console run on them.
            CommandKey = Path.Combine(keysDirectory, "operator.key"),
        }, token);
    }

    /// <summary>Prints where the console is and waits for Ctrl+C, the fleet still connected.</summary>
    public static async Task KeepRunningAsync(DemoConsole output, Uri? address, string token, CancellationToken ct)
    {
        output.Line($"Fleet console: {address} (the fleet keeps running; Ctrl+C stops it)");
        output.Line($"Operator token for rollback, publish and device commands: {token}");
        try
        {
            // Waits on the operator, not on the system: Ctrl+C (the command's token) ends it.
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            output.Line("Ctrl+C: stopping the fleet.");
        }
    }
}
