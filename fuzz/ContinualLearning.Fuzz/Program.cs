using SharpFuzz;

namespace ContinualLearning.Fuzz;

/// <summary>
/// <c>ContinualLearning.Fuzz &lt;target&gt;</c>: the AFL fork server for one target (run under afl-fuzz by fuzz/run.sh).
/// <c>ContinualLearning.Fuzz &lt;target&gt; &lt;file&gt;...</c>: replays inputs once each and prints what they raise (triage).
/// <c>ContinualLearning.Fuzz seed &lt;corpus-dir&gt;</c>: writes the seed corpus of every target.
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "seed")
        {
            Seeds.WriteAll(args[1]);
            return 0;
        }
        if (args.Length == 0 || !Targets.All.TryGetValue(args[0], out var target))
        {
            Console.Error.WriteLine($"Usage: ContinualLearning.Fuzz <{string.Join('|', Targets.All.Keys)}> [input files to replay]");
            Console.Error.WriteLine("       ContinualLearning.Fuzz seed <corpus directory>");
            return 2;
        }
        if (args.Length == 1)
        {
            // Any exception escaping the target is what afl-fuzz records as a crash; the targets catch only the
            // exceptions their parser documents for bad input.
            Fuzzer.OutOfProcess.Run(stream =>
            {
                using var buffer = new MemoryStream();
                stream.CopyTo(buffer);
                target(buffer.ToArray());
            });
            return 0;
        }
        return Replay(target, args.Skip(1));
    }

    private static unsafe int Replay(Action<byte[]> target, IEnumerable<string> files)
    {
        // The assemblies fuzz/run.sh instrumented write coverage to afl's shared map; outside afl give them a
        // private one, so the same build replays its findings.
        SharpFuzz.Common.Trace.SharedMem = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(1 << 16);
        var failed = 0;
        foreach (var file in files)
        {
            try
            {
                target(File.ReadAllBytes(file));
                Console.WriteLine($"ok     {file}");
            }
#pragma warning disable CA1031 // Triage prints every escaping exception, whatever its type: that is what it is for.
            catch (Exception e)
#pragma warning restore CA1031
            {
                failed++;
                Console.WriteLine($"CRASH  {file}");
                Console.WriteLine(e.ToString());
            }
        }
        return failed == 0 ? 0 : 1;
    }
}
