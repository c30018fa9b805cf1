using System.Globalization;

namespace ContinualLearning.Cli.Demo;

/// <summary>
/// Everything `cl demo` can be told. Immutable; <see cref="Quick"/> and <see cref="Default"/> are the two presets
/// (the CI smoke run and the README's first command), the command-line options override single fields.
/// </summary>
internal sealed record DemoOptions
{
    /// <summary>The world the run plays in: SEA drift (default) or spoken keywords (<c>--scenario keywords</c>).</summary>
    public DemoScenarioKind Scenario { get; init; } = DemoScenarioKind.Sea;

    /// <summary>Simulated devices, each with its own drifting data shard.</summary>
    public int Devices { get; init; } = 8;

    /// <summary>Labelled samples each device sees over the run.</summary>
    public int SamplesPerDevice { get; init; } = 3000;

    /// <summary>Wall time over which each device's samples are spread (the stream is paced, not replayed flat out), so the aggregator has time to release versions while devices are still learning.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(50);

    public int Seed { get; init; } = 42;

    /// <summary>External broker ("host", port); null runs the embedded MQTTnet broker on a free loopback port.</summary>
    public (string Host, int Port)? Broker { get; init; }

    public string Fleet { get; init; } = "demo";

    /// <summary>Plain TCP without client certificates or ACL (debugging only); the default is mutual TLS with the fleet ACL.</summary>
    public bool Insecure { get; init; }

    /// <summary>
    /// An existing fleet CA directory (ca.crt + ca.key, from <c>cl fleet ca new</c>) to issue the demo's certificates
    /// from, so an external broker configured by <c>cl broker config</c> for that CA accepts them; null makes a throwaway CA.
    /// </summary>
    public string? CaDirectory { get; init; }

    public string ModelName { get; init; } = "sea";

    /// <summary>Devices that send sign-flipped (and amplified) deltas, to show robust aggregation and rollback.</summary>
    public int Poison { get; init; }

    /// <summary>Directory for summary.json and summary.md; null writes none.</summary>
    public string? OutDirectory { get; init; }

    /// <summary>Keep the temp state directory (stores, registry, bundles) instead of deleting it.</summary>
    public bool Keep { get; init; }

    /// <summary>
    /// <c>--console [host:port]</c>: serve the fleet console there and, after the scenario, keep the fleet running
    /// (aggregator, devices, embedded broker) until Ctrl+C; null for no console.
    /// </summary>
    public string? Console { get; init; }

    /// <summary>
    /// <c>--clusters</c>: concept-aware aggregation on the aggregator (<c>aggregation:clustering</c>) and on every device
    /// (<c>learning:clustering</c>): the fleet splits into clusters, each with its own model, releases and canary.
    /// </summary>
    public bool Clusters { get; init; }

    /// <summary>Top-k fraction of each tensor a device sends per delta (error feedback carries the rest).</summary>
    public double DeltaFraction { get; init; } = 0.02;

    /// <summary>Deltas buffered before the aggregator builds a version (FedBuff K).</summary>
    public int AggregationBuffer { get; init; } = 4;

    /// <summary>Seconds after which a non-empty buffer is aggregated anyway (FedBuff T).</summary>
    public TimeSpan AggregationTimeout { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>A device trains a challenger after this many new labelled samples.</summary>
    public int TrainEvery { get; init; } = 200;

    /// <summary>Labelled samples a canary device must score on a new version before the canary is judged.</summary>
    public int CanaryWindow { get; init; } = 150;

    /// <summary>
    /// Canary cohort accuracy may fall this far below the control cohort's before the version is rolled back. Devices
    /// drift at different moments, so the two cohorts differ by a few points for reasons unrelated to the version;
    /// a poisoned version costs far more.
    /// </summary>
    public double CanaryTolerance { get; init; } = 0.08;

    /// <summary>L2 bound each delta is clipped to before averaging when devices are poisoned (the NormClip strategy); honest deltas measure ≈ 1.2 on average.</summary>
    public double ClipNorm { get; init; } = 1.5;

    /// <summary>Samples per device in the held-out evaluation set.</summary>
    public int HeldOutPerDevice { get; init; } = 500;

    public static DemoOptions Default { get; } = new();

    /// <summary>≈ 20–30 s end to end: the CI smoke run.</summary>
    public static DemoOptions Quick { get; } = new()
    {
        SamplesPerDevice = 1600,
        Duration = TimeSpan.FromSeconds(16),
        AggregationTimeout = TimeSpan.FromSeconds(3),
        TrainEvery = 160,
        CanaryWindow = 100,
        HeldOutPerDevice = 300,
    };

    /// <summary>
    /// <c>--scenario keywords</c>: one device per voice family the base model never heard, each hearing every keyword
    /// of its family once (clean and noisy clips), trained every 40 labels; a few minutes end to end.
    /// </summary>
    public static DemoOptions Keywords { get; } = new()
    {
        Scenario = DemoScenarioKind.Keywords,
        ModelName = "keywords",
        Devices = KeywordWorld.DeviceFamilies.Count,
        SamplesPerDevice = KeywordWorld.MaxClipsPerDevice, // each device hears every clip of its family once
        Duration = TimeSpan.FromSeconds(60),
        AggregationTimeout = TimeSpan.FromSeconds(8),
        TrainEvery = 40,
        CanaryWindow = 40,
        // Devices hear different voice families, whose accuracies differ by 10–30 points whatever the version (a canary
        // that just installed a release also starts without the control devices' local fine-tunes); a poisoned or broken
        // version costs far more than 15 points.
        CanaryTolerance = 0.15,
        // The head is 12k weights: 10 % of it is ~1.2k values (a few KB per delta), and each version carries more of
        // what the devices learned than the SEA world's 2 %.
        DeltaFraction = 0.1,
    };

    /// <summary>Checks ranges; the message names the option and says what is allowed.</summary>
    public void Validate()
    {
        if (Scenario == DemoScenarioKind.Keywords && Devices > KeywordWorld.DeviceFamilies.Count)
            throw new ArgumentException($"--devices {Devices} is out of range for --scenario keywords: each device hears its own voice family and there are {KeywordWorld.DeviceFamilies.Count} ({string.Join(", ", KeywordWorld.DeviceFamilies)}); use 2–{KeywordWorld.DeviceFamilies.Count}.");
        if (Scenario == DemoScenarioKind.Keywords && SamplesPerDevice > KeywordWorld.MaxClipsPerDevice)
            throw new ArgumentException($"--samples {SamplesPerDevice} is too many for --scenario keywords: a voice family has {KeywordWorld.MaxClipsPerDevice} clips; use at most that.");
        if (Clusters && Scenario == DemoScenarioKind.Keywords)
            throw new ArgumentException("--clusters runs with --scenario groups or sea: the keyword world scores versions on voices no device hears, not on each device's own data, so it cannot show what each cluster's model is worth to its devices.");
        if (Scenario == DemoScenarioKind.Groups && Devices < 4)
            throw new ArgumentException($"--devices {Devices} is too few for --scenario groups: each of the two groups needs at least 2 devices; use 4–64.");
        if (Devices is < 2 or > 64) throw new ArgumentException($"--devices {Devices} is out of range: use 2–64 simulated devices.");
        if (SamplesPerDevice < 4 * TrainEvery) throw new ArgumentException($"--samples {SamplesPerDevice} is too few: each device needs at least {4 * TrainEvery} samples to train a few rounds.");
        if (Duration < TimeSpan.Zero || Duration > TimeSpan.FromHours(1)) throw new ArgumentException($"--duration {Duration.TotalSeconds:0.#} s is out of range: use 0–3600 seconds (0 runs flat out).");
        if (Poison < 0 || Poison >= Devices) throw new ArgumentException($"--poison {Poison} is out of range: use 0 to {Devices - 1} (fewer poisoned devices than devices).");
        if (!Fleet.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_') || Fleet.Length is 0 or > 64)
            throw new ArgumentException($"--fleet '{Fleet}' is not a valid fleet name: use 1–64 letters, digits, '-' or '_'.");
        if (Insecure && CaDirectory is not null) throw new ArgumentException($"--insecure and --ca {CaDirectory} contradict each other: --ca issues certificates for TLS, --insecure turns TLS off. Give one.");
        if (Broker is { } b && !Insecure && CaDirectory is null)
            throw new ArgumentException($"--broker {b.Host}:{b.Port}: an external broker cannot trust a CA made for this run. Give --ca DIR (the fleet CA the broker's `cl broker config` was made with; the demo connects as aggregator:demo, operator:demo and its devices) or --insecure for a plain, anonymous broker.");
        if (!(DeltaFraction > 0 && DeltaFraction <= 1)) throw new ArgumentException($"Delta fraction {DeltaFraction} must be in (0, 1].");
    }

    /// <summary>Parses "host:port" (or "host", port 1883; IPv6 as "[::1]:1883").</summary>
    public static (string Host, int Port) ParseBroker(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var text = value.Trim();
        if (text.StartsWith("mqtt://", StringComparison.OrdinalIgnoreCase)) text = text[7..];
        string host;
        string? port = null;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0) throw new ArgumentException($"--broker '{value}': missing ']' after the IPv6 address; write e.g. [::1]:1883.");
            host = text[1..close];
            if (close + 1 < text.Length)
            {
                if (text[close + 1] != ':') throw new ArgumentException($"--broker '{value}': expected ':port' after ']'.");
                port = text[(close + 2)..];
            }
        }
        else
        {
            var colon = text.LastIndexOf(':');
            host = colon < 0 ? text : text[..colon];
            if (colon >= 0) port = text[(colon + 1)..];
        }
        if (host.Length == 0) throw new ArgumentException($"--broker '{value}' has no host; write host:port, e.g. localhost:1883.");
        var p = 1883;
        if (port is not null && (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out p) || p is < 1 or > 65535))
            throw new ArgumentException($"--broker '{value}': port '{port}' is not a number in 1–65535.");
        return (host, p);
    }
}
