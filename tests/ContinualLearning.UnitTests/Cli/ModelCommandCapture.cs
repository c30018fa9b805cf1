using System.CommandLine;
using ContinualLearning.Cli.Commands;
using Spectre.Console;

namespace ContinualLearning.UnitTests.Cli;

/// <summary>
/// Runs `cl model …` in-process as Program builds it, with <see cref="Console"/> and Spectre's console captured (a wide,
/// non-interactive console, so tables are not wrapped). Both are process-wide: callers belong to
/// <see cref="ConsoleCaptureCollection"/>.
/// </summary>
internal static class ModelCommandCapture
{
    /// <summary>Runs <paramref name="args"/>, asserts exit code 0 and returns what was written to standard output.</summary>
    public static async Task<string> RunAsync(params string[] args)
    {
        var root = new RootCommand("test") { ModelCommand.Build() };
        var stdout = new StringWriter();
        var (oldOut, oldConsole) = (Console.Out, AnsiConsole.Console);
        Console.SetOut(stdout);
        AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stdout), Interactive = InteractionSupport.No });
        AnsiConsole.Console.Profile.Width = 400;
        try
        {
            var exit = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = stdout }).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, exit);
            return stdout.ToString();
        }
        finally
        {
            Console.SetOut(oldOut);
            AnsiConsole.Console = oldConsole;
        }
    }
}
