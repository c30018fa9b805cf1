using ContinualLearning.Bundle;
using ContinualLearning.Learning;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Cli.Demo;

/// <summary>Which world <c>cl demo</c> plays in (<c>--scenario</c>).</summary>
internal enum DemoScenarioKind
{
    /// <summary>Drifting SEA streams and a tabular head (the default, and the CI smoke run).</summary>
    Sea,

    /// <summary>Spoken keywords: raw audio through the speech pipeline, one voice family per device.</summary>
    Keywords,

    /// <summary>
    /// Two groups on SEA: half the fleet drifts to another concept, the other half stays in the base concept, so one
    /// global model cannot serve both (what <c>--clusters</c>, concept-aware aggregation, is for).
    /// </summary>
    Groups,
}

/// <summary>
/// The data side of a demo run: the base model, each device's stream and the held-out evaluation. The runner, the
/// devices, the aggregator and the summary are the same for every world; only what flows through them differs.
/// </summary>
internal interface IDemoWorld : IDisposable
{
    /// <summary>The summary's scenario line.</summary>
    string Description { get; }

    /// <summary>What the held-out set is, for the summary ("… noise-free samples drawn from …").</summary>
    string HeldOutDescription { get; }

    /// <summary>Short name of one held-out item for the live summary panel ("held-out samples").</summary>
    string HeldOutUnit { get; }

    HeadSpec Head { get; }

    /// <summary>One device shard per simulated device, in device order.</summary>
    IReadOnlyList<DeviceShard> Shards { get; }

    /// <summary>Replay buffer of every device.</summary>
    int ReplayCapacity { get; }

    /// <summary>Champion/challenger settings of one device.</summary>
    ChallengerOptions Challenger(DemoOptions options, string deviceId);

    /// <summary>Trains the base model and writes it as a signed bundle into <paramref name="directory"/>; returns the event line that says what it is.</summary>
    string SaveBase(string directory, ITrainingEngine engine, Func<ModelManifest, string> sign);

    /// <summary>Items in the held-out set.</summary>
    int HeldOutSamples { get; }

    /// <summary>Accuracy of head <paramref name="weights"/> on the held-out set.</summary>
    double Accuracy(ITrainingEngine engine, IReadOnlyList<NamedTensor> weights);
}

/// <summary>Shared held-out scoring: head inputs (row-major) and class indices.</summary>
internal static class HeldOutScoring
{
    /// <summary>Fraction of rows whose highest-probability class is the label (ties go to the lower index).</summary>
    public static double Accuracy(ITrainingEngine engine, HeadSpec head, TrainingDefaults training, IReadOnlyList<NamedTensor> weights, float[] x, int[] y)
    {
        using var model = engine.Create(head, training.Options, weights);
        return HeadAccuracy.Of(model, x, y);
    }
}

/// <summary>A world whose held-out set is made of one block per device, drawn from that device's own final concept.</summary>
internal interface IDeviceHeldOut
{
    /// <summary>Accuracy of head <paramref name="weights"/> on the held-out block of device <paramref name="device"/> (0-based shard index).</summary>
    double DeviceAccuracy(ITrainingEngine engine, IReadOnlyList<NamedTensor> weights, int device);

    /// <summary>The group a device belongs to for the summary (its final concept), e.g. "SEA concept 3".</summary>
    string GroupOf(DeviceShard shard);
}

/// <summary>The default world: SEA concept drift (<see cref="DemoScenario"/>), and its two-group variant.</summary>
internal sealed class SeaWorld(DemoOptions options) : IDemoWorld, IDeviceHeldOut
{
    private (float[] X, int[] Y)? _heldOut;

    public string Description => options.Scenario == DemoScenarioKind.Groups
        ? $"two groups on SEA: even-numbered devices drift from concept {DemoScenario.BaseConcept} (θ=9.5) to {DemoScenario.DriftConcept} (θ=7) at 10–45 % of their streams, odd-numbered devices stay in concept {DemoScenario.BaseConcept}; 10 % label noise"
        : $"SEA concept {DemoScenario.BaseConcept} (θ=9.5) → {DemoScenario.DriftConcept} (θ=7), drift at 10–45 % of each device's stream, 10 % label noise";

    public string HeldOutDescription => "noise-free samples drawn from the devices' current concepts";

    public string HeldOutUnit => "held-out samples";

    public HeadSpec Head => DemoScenario.Head;

    public IReadOnlyList<DeviceShard> Shards { get; } = DemoScenario.Shards(options);

    public int ReplayCapacity => DemoScenario.ReplayCapacity;

    public ChallengerOptions Challenger(DemoOptions o, string deviceId) => DemoScenario.Challenger(o, deviceId);

    public string SaveBase(string directory, ITrainingEngine engine, Func<ModelManifest, string> sign)
    {
        ModelBundle.Save(directory, DemoScenario.Manifest(options.ModelName, DemoScenario.BaseVersion, null), DemoScenario.TrainBase(engine, options.Seed), sign: sign);
        return $"base model {options.ModelName} {DemoScenario.BaseVersion} trained on SEA concept {DemoScenario.BaseConcept}; head {DemoScenario.Head}";
    }

    public int HeldOutSamples => HeldOut.Y.Length;

    public double Accuracy(ITrainingEngine engine, IReadOnlyList<NamedTensor> weights) =>
        HeldOutScoring.Accuracy(engine, DemoScenario.Head, DemoScenario.Training, weights, HeldOut.X, HeldOut.Y);

    public double DeviceAccuracy(ITrainingEngine engine, IReadOnlyList<NamedTensor> weights, int device)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(device);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(device, Shards.Count);
        // DemoScenario.HeldOut writes one block of HeldOutPerDevice rows per shard, in shard order.
        var n = options.HeldOutPerDevice;
        var features = DemoScenario.Head.InputSize;
        var (x, y) = HeldOut;
        return HeldOutScoring.Accuracy(engine, DemoScenario.Head, DemoScenario.Training, weights,
            x.AsSpan(device * n * features, n * features).ToArray(), y.AsSpan(device * n, n).ToArray());
    }

    public string GroupOf(DeviceShard shard)
    {
        ArgumentNullException.ThrowIfNull(shard);
        return $"SEA concept {shard.FinalConcept}";
    }

    private (float[] X, int[] Y) HeldOut => _heldOut ??= DemoScenario.HeldOut(Shards, options.HeldOutPerDevice, options.Seed + 99);

    public void Dispose()
    {
    }
}
