using System.Globalization;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.Cli.Simulation;

/// <summary>Which part of the fleet one process simulates: devices <c>i</c>, <c>i + count</c>, <c>i + 2·count</c>, … .</summary>
internal readonly record struct SliceSpec(int Index, int Count)
{
    public static SliceSpec Whole { get; } = new(0, 1);

    /// <summary>Parses <c>i/P</c> (0 ≤ i &lt; P).</summary>
    public static SliceSpec Parse(string text)
    {
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || !int.TryParse(text[..slash], CultureInfo.InvariantCulture, out var index) || !int.TryParse(text[(slash + 1)..], CultureInfo.InvariantCulture, out var count)
            || count < 1 || index < 0 || index >= count)
            throw new ArgumentException($"--slice '{Text.DisplayText.Truncate(text, 20)}' is not i/P with 0 <= i < P (e.g. 0/4).");
        return new SliceSpec(index, count);
    }

    /// <summary>The device numbers of this slice out of <paramref name="devices"/>.</summary>
    public IEnumerable<int> Devices(int devices)
    {
        for (var d = Index; d < devices; d += Count) yield return d;
    }

    public override string ToString() => $"{Index}/{Count}";
}

/// <summary>The settings of <c>cl simulate</c> (see <see cref="Commands.SimulateCommand"/>).</summary>
internal sealed record SimulationOptions
{
    /// <summary>How a parent hands the registry connection string to its children.</summary>
    public const string RegistryConnectionVariable = "CL_SIMULATE_REGISTRY_CONNECTION";

    public const string LearningNote = "learning: a seeded random perturbation of the installed head, not training";

    public int Devices { get; init; } = 20;

    public string BrokerHost { get; init; } = "127.0.0.1";

    public int BrokerPort { get; init; } = 1883;

    public string Fleet { get; init; } = "default";

    public string Model { get; init; } = "bench";

    /// <summary>The fleet's release public key (release.pub) every simulated device verifies releases against.</summary>
    public required string ReleaseKeyPath { get; init; }

    public int Processes { get; init; } = 1;

    /// <summary>Deltas per second sent by the whole fleet.</summary>
    public double Rate { get; init; } = 100;

    /// <summary>Seconds during which deltas are sent (after every device installed its first release).</summary>
    public double Duration { get; init; } = 30;

    /// <summary>At most this many seconds after the last delta for the last release to reach every device.</summary>
    public double Drain { get; init; } = 60;

    /// <summary>New connections per second, all processes together (kept under the kernel's listen backlog).</summary>
    public double ConnectRate { get; init; } = 500;

    /// <summary>Devices that extract and load every bundle they install; null: all of them.</summary>
    public int? InstallSample { get; init; }

    /// <summary>Fleet CA directory (ca.crt, ca.key): each device connects with its own certificate (mutual TLS); null: plain TCP.</summary>
    public string? CaDirectory { get; init; }

    /// <summary>Registry directory of the aggregator (SQLite), read for accepted deltas and the delta → version mapping.</summary>
    public string? RegistryPath { get; init; }

    /// <summary>PostgreSQL connection string of the aggregators' registry (instead of <see cref="RegistryPath"/>); never printed.</summary>
    public string? RegistryConnection { get; init; }

    /// <summary>The registry to read, or null when neither --registry nor --registry-connection was given.</summary>
    public ModelRegistry? OpenRegistry() => RegistryConnection is { } connection
        ? ModelRegistry.Open(RegistryLocation.Postgres(connection, Path.Combine(StateDirectory, "registry")))
        : RegistryPath is { } path ? ModelRegistry.Open(path) : null;

    public int? AggregatorPid { get; init; }

    public int? BrokerPid { get; init; }

    public string? JsonPath { get; init; }

    public int Seed { get; init; } = 1;

    /// <summary>Bundle chunks and extracted bundles; tmpfs so that thousands of devices never touch the disk.</summary>
    public string StateDirectory { get; init; } = DefaultStateDirectory();

    public SliceSpec Slice { get; init; } = SliceSpec.Whole;

    /// <summary>Set in a child process: where it writes its slice report.</summary>
    public string? SliceOutput { get; init; }

    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(5);

    public string DevicePrefix { get; init; } = "sim";

    public string DeviceId(int number) => $"{DevicePrefix}-{number:D5}";

    /// <summary>Throws <see cref="ArgumentException"/> naming the flag, its value and what to do.</summary>
    public void Validate()
    {
        if (Devices is < 1 or > 1_000_000) throw new ArgumentException($"--devices {Devices} is out of range: use 1 to 1000000.");
        if (Processes < 1 || Processes > 64 || Processes > Devices) throw new ArgumentException($"--processes {Processes} is out of range: use 1 to 64 and at most --devices ({Devices}).");
        if (!(Rate > 0) || double.IsInfinity(Rate)) throw new ArgumentException($"--rate {Rate} must be a positive number of deltas per second for the whole fleet.");
        if (!(Duration > 0) || Duration > 86_400) throw new ArgumentException($"--duration {Duration} must be 0 < seconds <= 86400.");
        if (Drain < 0 || Drain > 3_600) throw new ArgumentException($"--drain {Drain} must be 0 to 3600 seconds.");
        if (!(ConnectRate > 0)) throw new ArgumentException($"--connect-rate {ConnectRate} must be a positive number of connections per second.");
        if (InstallSample is < 0) throw new ArgumentException($"--install-sample {InstallSample} must be 0 or more (devices that extract and load every bundle).");
        if (!File.Exists(ReleaseKeyPath)) throw new ArgumentException($"--release-key '{Text.DisplayText.Truncate(ReleaseKeyPath, 200)}' does not exist: give the fleet's release.pub (`cl keys new`).");
        if (RegistryPath is not null && !Directory.Exists(RegistryPath))
            throw new ArgumentException($"--registry '{Text.DisplayText.Truncate(RegistryPath, 200)}' does not exist: give the aggregator's registry directory, or leave it out (no accepted counts then).");
        if (RegistryPath is not null && RegistryConnection is not null)
            throw new ArgumentException("--registry and --registry-connection are both set: give the SQLite registry directory or the PostgreSQL connection string, not both.");
        if (CaDirectory is not null && !Directory.Exists(CaDirectory))
            throw new ArgumentException($"--ca '{Text.DisplayText.Truncate(CaDirectory, 200)}' does not exist: give the fleet CA directory from `cl fleet ca new`.");
        FleetTopics.Id(Fleet, "fleet");
        FleetTopics.Id(Model, "model");
    }

    /// <summary>Whether device <paramref name="number"/> extracts and loads every bundle (the first k devices of the fleet with --install-sample k).</summary>
    public bool FullInstall(int number) => InstallSample is not { } k || number < k;

    public string InstallDescription => InstallSample is { } k
        ? $"install: every device verifies each release's signature and chunks (BundleAssembler); {Math.Min(k, Devices)} of {Devices} also extract and load every bundle"
        : "install: every device verifies each release's signature and chunks (BundleAssembler), extracts and loads every bundle";

    private static string DefaultStateDirectory()
    {
        var root = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        return Path.Combine(root, $"cl-sim-{Environment.ProcessId}");
    }
}
