using ContinualLearning.Bundle;
using ContinualLearning.Learning;
using ContinualLearning.Streams;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Cli.Demo;

/// <summary>One device's data: a SEA stream that drifts from the base concept to a new one at a device-specific point.</summary>
/// <param name="DeviceId">MQTT-safe device id.</param>
/// <param name="Stream">The device's labelled stream (infinite; the device takes what it needs).</param>
/// <param name="DriftAt">Sample index around which the concept switches.</param>
/// <param name="DriftWidth">0 for an abrupt switch, else the width of the gradual switch (samples).</param>
/// <param name="FinalConcept">SEA concept (1–4) the device is in at the end of its run.</param>
/// <param name="Poisoned">Sends sign-flipped deltas.</param>
/// <param name="Canary">Belongs to the canary cohort.</param>
/// <param name="Voice">The voice family the device hears (keywords world); null for SEA.</param>
internal sealed record DeviceShard(string DeviceId, IStream Stream, long DriftAt, long DriftWidth, int FinalConcept, bool Poisoned, bool Canary, string? Voice = null)
{
    /// <summary>The concept most of this device's samples come from at sample <paramref name="t"/>.</summary>
    public int ConceptAt(long t) => t < DriftAt ? DemoScenario.BaseConcept : FinalConcept;
}

/// <summary>
/// The demo's world: SEA concepts (Street &amp; Kim 2001). The base model is trained on concept 4 (class 0 when
/// f1 + f2 ≤ 9.5); every device then drifts to concept 3 (θ = 7) at its own point — some abruptly, some
/// gradually — so about a fifth of the input space changes label and a model that is never updated loses ~20
/// points of accuracy. The head is deliberately wider than SEA needs (3→128→128→2, 17k parameters) so that the
/// bytes-on-the-wire comparison against full-weight updates is about a realistically sized head, not about headers.
/// </summary>
internal static class DemoScenario
{
    public const int BaseConcept = 4;
    public const int DriftConcept = 3;
    public const string BaseVersion = "1.0.0";
    private const double Noise = 0.1;

    public static HeadSpec Head { get; } = new([3, 128, 128, 2], LossKind.SoftmaxCrossEntropy);

    public static TrainingDefaults Training { get; } = new()
    {
        Options = new TrainingOptions { Optimizer = OptimizerKind.Adam, LearningRate = 3e-3f },
        BatchSize = 32,
    };

    /// <summary>f1..f3 are uniform on [0, 10]: mean 5, std 10/√12.</summary>
    public static InputSchema Schema { get; } = new([new("f1", 5f, 2.8868f), new("f2", 5f, 2.8868f), new("f3", 5f, 2.8868f)]);

    public static ModelManifest Manifest(string modelName, string version, string? parent) => new()
    {
        Name = modelName,
        Version = version,
        ParentVersion = parent,
        CreatedUtc = DateTime.UtcNow,
        InputSchema = Schema,
        Task = TaskSpec.Classification("0", "1"),
        Head = Head,
        Training = Training,
    };

    /// <summary>Replay buffer of every demo device (both device kinds learn alike).</summary>
    public const int ReplayCapacity = 600;

    /// <summary>The champion/challenger settings of every demo device: a run every <see cref="DemoOptions.TrainEvery"/> labels.</summary>
    public static ChallengerOptions Challenger(DemoOptions o, string deviceId) => new()
    {
        MinSamples = o.TrainEvery / 2,
        MaxSamples = o.TrainEvery,
        BatchSize = Training.BatchSize,
        Epochs = 3,
        ReplayRatio = 0.25,
        HoldoutFraction = 0.25,
        AccuracyMargin = 0,
        Seed = o.Seed + deviceId.GetHashCode(StringComparison.Ordinal),
    };

    /// <summary>
    /// The devices' shards: drift points spread over 10–45 % of the run, every other device drifting gradually. In the
    /// two-group world (<see cref="DemoScenarioKind.Groups"/>) only the even-numbered devices drift; the odd-numbered
    /// ones stay in the base concept.
    /// </summary>
    public static IReadOnlyList<DeviceShard> Shards(DemoOptions options)
    {
        var shards = new DeviceShard[options.Devices];
        var groups = options.Scenario == DemoScenarioKind.Groups;
        for (var i = 0; i < options.Devices; i++)
        {
            var fraction = 0.10 + 0.35 * i / Math.Max(1, options.Devices - 1);
            var driftAt = (long)(fraction * options.SamplesPerDevice);
            var width = i % 2 == 1 ? options.SamplesPerDevice / 20 : 0;
            var seed = options.Seed * 1000 + 17 * (i + 1);
            var (poisoned, canary) = Role(options, i);
            if (groups && i % 2 == 1)
            {
                // The second group never leaves the base concept: the stream's single switch lies beyond the run.
                var stays = ConceptDriftStream.Sea([BaseConcept, BaseConcept], [long.MaxValue], 0, Noise, seed);
                shards[i] = new DeviceShard(DeviceId(i), stays, long.MaxValue, 0, BaseConcept, poisoned, canary);
                continue;
            }
            var stream = ConceptDriftStream.Sea([BaseConcept, DriftConcept], [driftAt], width, Noise, seed);
            shards[i] = new DeviceShard(DeviceId(i), stream, driftAt, width, DriftConcept, poisoned, canary);
        }
        return shards;
    }

    /// <summary>The id of device <paramref name="i"/> (0-based).</summary>
    public static string DeviceId(int i) => $"dev-{i + 1:D2}";

    /// <summary>Whether device <paramref name="i"/> is poisoned and whether it is in the canary cohort (a quarter of the fleet, at least one).</summary>
    public static (bool Poisoned, bool Canary) Role(DemoOptions options, int i)
    {
        ArgumentNullException.ThrowIfNull(options);
        var canaries = Math.Max(1, (int)Math.Round(options.Devices * 0.25));
        // Poisoned devices are the last ones, never canaries: the canary must judge the aggregate, not be the attacker.
        var poisoned = i >= options.Devices - options.Poison;
        // The canary rule compares the canary cohort with the rest of the fleet over the same minutes. Canaries that
        // drifted long before the others would look worse for reasons that have nothing to do with the version, so
        // the canaries are the honest devices that drift last.
        var firstCanary = options.Devices - options.Poison - canaries;
        return (poisoned, i >= firstCanary && !poisoned);
    }

    /// <summary>
    /// Held-out set from each device's concept at the end of the run (its "current" concept), labels noise-free so
    /// accuracy measures how well a model fits the concept. Normalised features, row-major.
    /// </summary>
    public static (float[] X, int[] Y) HeldOut(IReadOnlyList<DeviceShard> shards, int perDevice, int seed)
    {
        var x = new float[shards.Count * perDevice * 3];
        var y = new int[shards.Count * perDevice];
        var pipeline = new Features.FeaturePipeline(Schema);
        var n = 0;
        foreach (var shard in shards)
        {
            var generator = new SeaGenerator(shard.FinalConcept, 0, seed + 31 * n + 7);
            foreach (var s in generator.Take(perDevice))
            {
                pipeline.Normalize(s.Features, x.AsSpan(n * 3, 3));
                y[n] = generator.TrueLabel(s.Features);
                n++;
            }
        }
        return (x, y);
    }

    /// <summary>Trains the base model on the base concept (the "factory" model every device starts from).</summary>
    public static IReadOnlyList<NamedTensor> TrainBase(ITrainingEngine engine, int seed, int samples = 4000, int epochs = 4)
    {
        var pipeline = new Features.FeaturePipeline(Schema);
        var data = new SeaGenerator(BaseConcept, Noise, seed + 1).Take(samples).ToArray();
        var x = new float[samples * 3];
        var y = new float[samples];
        for (var i = 0; i < samples; i++)
        {
            pipeline.Normalize(data[i].Features, x.AsSpan(i * 3, 3));
            y[i] = data[i].Label;
        }
        using var model = engine.Create(Head, Training.Options, HeadInitializer.Initialize(Head, seed), seed);
        var batch = Training.BatchSize;
        for (var e = 0; e < epochs; e++)
            for (var start = 0; start + batch <= samples; start += batch)
                model.TrainStep(x.AsSpan(start * 3, batch * 3), y.AsSpan(start, batch), batch);
        return model.GetWeights();
    }
}
