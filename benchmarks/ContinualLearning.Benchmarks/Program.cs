using BenchmarkDotNet.Running;

namespace ContinualLearning.Benchmarks;

/// <summary>Entry point: <c>dotnet run -c Release --project benchmarks/ContinualLearning.Benchmarks -- --filter '*'</c>.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        // Runners that are measurements of a whole system rather than BenchmarkDotNet micro-benchmarks.
        if (args.Length > 0 && args[0] == "aggregator-throughput") return Aggregator.AggregatorThroughput.RunAsync(args[1..]).GetAwaiter().GetResult();
        if (args.Length > 0 && args[0] == "aggregator-robustness") return Aggregator.RobustStrategies.Run(args[1..]);
        if (args.Length > 0 && args[0] == "federated-compression") return Aggregator.FederatedCompression.Run(args[1..]);
        if (args.Length > 0 && args[0] == "federated-privacy") return Aggregator.PrivacyCurve.Run(args[1..]);
        if (args.Length > 0 && args[0] == "federated-personalisation") return Aggregator.Personalisation.Run(args[1..]);
        if (args.Length > 0 && args[0] == "federated-drift") return Aggregator.FederatedDrift.Run(args[1..]);
        if (args.Length > 0 && args[0] == "audio-latency") return Audio.AudioLatency.RunAsync(args[1..]).GetAwaiter().GetResult();
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
