using System.Globalization;
using ContinualLearning.Aggregator.Registry;

namespace ContinualLearning.Cli.Simulation;

/// <summary>A process seen through /proc: CPU seconds so far, resident memory, open file descriptors.</summary>
internal sealed class ProcessProbe(int pid)
{
    // USER_HZ: the unit of utime/stime in /proc/{pid}/stat; 100 on every Linux ABI .NET runs on.
    private const double TicksPerSecond = 100;

    public int Pid => pid;

    public bool Alive => Directory.Exists($"/proc/{pid}");

    /// <summary>User + system CPU seconds since the process started, or null when it cannot be read.</summary>
    public double? CpuSeconds()
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>A line of /proc/{pid}/status in bytes (VmRSS, VmHWM), or null.</summary>
    public long? StatusBytes(string field)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith(field + ":", StringComparison.Ordinal));
            if (line is null) return null;
            var kb = line[(field.Length + 1)..].Trim().Split(' ')[0];
            return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>Open file descriptors, or null when /proc/{pid}/fd is not readable (another user's process: run as its user or root).</summary>
    public int? OpenFiles()
    {
        try
        {
            return Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Count();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The soft and hard "Max open files" of the process (/proc/{pid}/limits).</summary>
    public string? OpenFilesLimit()
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/limits").FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
            var parts = line?["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return parts is { Length: >= 2 } ? $"{parts[0]}/{parts[1]}" : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Established TCP connections whose local port is <paramref name="port"/> (the broker's side of each client), from /proc/net/tcp{,6}.</summary>
    public static int? EstablishedOnPort(int port)
    {
        var hexPort = port.ToString("X4", CultureInfo.InvariantCulture);
        var count = 0;
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table)) continue;
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length > 3 && parts[3] == "01" && parts[1].EndsWith(":" + hexPort, StringComparison.Ordinal)) count++;
            }
        }
        return count;
    }
}

/// <summary>Samples of the aggregator, the broker and the registry over the run (the parent process takes them).</summary>
internal sealed class FleetProbes(SimulationOptions options, TimeProvider time) : IDisposable
{
    private readonly ProcessProbe? _aggregator = options.AggregatorPid is { } a ? new ProcessProbe(a) : null;
    private readonly ProcessProbe? _broker = options.BrokerPid is { } b ? new ProcessProbe(b) : null;
    private readonly ModelRegistry? _registry = options.OpenRegistry();
    private readonly List<(long AtMs, int Accepted)> _accepted = [];
    private double? _cpuStart;
    private long _cpuStartMs;
    private double? _brokerCpuStart;

    public double? AggregatorCpuSeconds { get; private set; }

    public double? AggregatorCpuPercent { get; private set; }

    public long? AggregatorRssPeak { get; private set; }

    public double? BrokerCpuSeconds { get; private set; }

    public int? BrokerFilesPeak { get; private set; }

    public int? BrokerConnectionsPeak { get; private set; }

    public string? BrokerFileLimit => _broker?.OpenFilesLimit();

    public ModelRegistry? Registry => _registry;

    public IReadOnlyList<(long AtMs, int Accepted)> Accepted => _accepted;

    public int? AcceptedNow() => _registry?.Deltas.States().Values.Sum();

    /// <summary>Takes one sample; returns a progress line.</summary>
    public string Sample()
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var parts = new List<string>();
        if (AcceptedNow() is { } accepted)
        {
            _accepted.Add((now, accepted));
            parts.Add($"accepted {accepted}");
        }
        if (_aggregator?.CpuSeconds() is { } cpu)
        {
            _cpuStart ??= cpu;
            if (_cpuStartMs == 0) _cpuStartMs = now;
            AggregatorCpuSeconds = cpu - _cpuStart;
            if (now > _cpuStartMs) AggregatorCpuPercent = 100 * AggregatorCpuSeconds / ((now - _cpuStartMs) / 1000.0);
            AggregatorRssPeak = Max(AggregatorRssPeak, _aggregator.StatusBytes("VmRSS"));
            parts.Add($"aggregator CPU {AggregatorCpuPercent ?? 0:F0}% RSS {AggregatorRssPeak / 1_048_576.0:F0} MiB");
        }
        if (_broker is not null)
        {
            BrokerFilesPeak = Max(BrokerFilesPeak, _broker.OpenFiles());
            if (_broker.CpuSeconds() is { } brokerCpu)
            {
                _brokerCpuStart ??= brokerCpu;
                BrokerCpuSeconds = brokerCpu - _brokerCpuStart;
            }
            parts.Add($"broker fds {BrokerFilesPeak?.ToString(CultureInfo.InvariantCulture) ?? "n/a"}");
        }
        if (IsLocal(options.BrokerHost))
        {
            BrokerConnectionsPeak = Max(BrokerConnectionsPeak, ProcessProbe.EstablishedOnPort(options.BrokerPort));
            parts.Add($"broker connections {BrokerConnectionsPeak}");
        }
        return string.Join(", ", parts);
    }

    public void Dispose() => _registry?.Dispose();

    private static bool IsLocal(string host) => host is "127.0.0.1" or "localhost" or "::1";

    private static T? Max<T>(T? a, T? b) where T : struct, IComparable<T> =>
        a is null ? b : b is null ? a : a.Value.CompareTo(b.Value) >= 0 ? a : b;
}
