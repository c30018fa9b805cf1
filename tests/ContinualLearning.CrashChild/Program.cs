using ContinualLearning.Bundle;
using ContinualLearning.Learning;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

// Usage: ContinualLearning.CrashChild <model-store-dir>
// Loops promoting (and now and then rolling back) champions in the model store, printing "attempt <version>" before
// and "committed <version>" after each change, until killed. Every weight of version "<base>-local.<n>" equals n
// (0 for the base), so the parent can check that a loaded champion's weights belong to its manifest.
if (args.Length != 1)
{
    Console.Error.WriteLine("usage: ContinualLearning.CrashChild <model-store-dir>");
    return 2;
}

var store = new CheckpointStore(args[0]);
var spec = new HeadSpec([16, 64, 2], LossKind.SoftmaxCrossEntropy);
if (store.Current is null)
{
    var staging = Path.Combine(Path.GetTempPath(), $"cl-crash-base-{Guid.NewGuid():N}");
    var manifest = new ModelManifest
    {
        Name = "crash",
        Version = "1.0.0",
        CreatedUtc = DateTime.UtcNow,
        InputSchema = new InputSchema([.. Enumerable.Range(0, 16).Select(i => new FeatureSpec($"f{i}", 0, 1))]),
        Task = TaskSpec.Classification("a", "b"),
        Head = spec,
    };
    ModelBundle.Save(staging, manifest, Weights(spec, 0));
    Console.WriteLine("attempt 1.0.0");
    store.InstallBase(ModelBundle.Load(staging));
    Console.WriteLine("committed 1.0.0");
    Directory.Delete(staging, recursive: true);
}

var step = 0;
while (true)
{
    step++;
    var champion = store.LoadChampion();
    if (step % 5 == 0 && store.Current!.Previous is not null)
    {
        var previous = store.LoadPrevious()!;
        Console.WriteLine($"attempt {previous.Manifest.Version}");
        store.Rollback();
        Console.WriteLine($"committed {previous.Manifest.Version}");
        continue;
    }
    var n = store.NextLocalNumber;
    var version = LocalVersion.Next(store.LoadBase().Manifest.Version, n);
    Console.WriteLine($"attempt {version}");
    store.Promote(champion.Manifest with { Version = version, ParentVersion = champion.Manifest.Version, CreatedUtc = DateTime.UtcNow }, Weights(spec, n), null);
    store.AppendDecision(new PromotionDecision
    {
        Time = DateTimeOffset.UtcNow, TriggerReason = "crash-test", Mode = "stateful", Metric = DecisionMetric.Accuracy,
        ChampionMetric = 0.5, ChallengerMetric = 0.6, Margin = 0.005, TrainSamples = 1, HoldoutSamples = 1, ReplayedRows = 0,
        Steps = 1, SampleGradients = 1, WallTime = TimeSpan.Zero, Promoted = true, ChampionVersion = champion.Manifest.Version, NewVersion = version,
    });
    Console.WriteLine($"committed {version}");
}

static NamedTensor[] Weights(HeadSpec spec, long value) =>
    [.. spec.Parameters().Select(p => new NamedTensor(p.Name, p.Shape, Enumerable.Repeat((float)value, p.Shape.Aggregate(1, (a, b) => a * b)).ToArray()))];
