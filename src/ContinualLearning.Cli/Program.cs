namespace ContinualLearning.Cli;

internal static class Program
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("cl: commands arrive with the CLI work (see README).");
        return args.Length == 0 ? 1 : 1;
    }
}
