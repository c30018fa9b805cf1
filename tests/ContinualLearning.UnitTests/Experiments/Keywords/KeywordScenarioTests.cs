using ContinualLearning.Bundle;
using ContinualLearning.Experiments;
using ContinualLearning.Experiments.Keywords;
using ContinualLearning.Onnx;
using ContinualLearning.Pipelines;
using ContinualLearning.Training;
using ContinualLearning.UnitTests.Pipelines;

namespace ContinualLearning.UnitTests.Experiments.Keywords;

/// <summary>The scenario machinery: the split, the strategies on synthetic embeddings, and a small real run through the speech pipeline.</summary>
public sealed class KeywordScenarioTests(ITestOutputHelper output) : IDisposable
{
    // 4 words (one new) × 3 accents (one new) × 4 variants × 2 takes: 96 clean clips and their noisy copies, ~5 s to make.
    private static readonly KeywordCorpusSpec ScenarioSpec = KeywordCorpusSpec.Small with
    {
        Words = ["yes", "no", "up", "zero"],
        Accents = ["en-us", "en-gb", "en-gb-scotland"],
        Variants = ["m1", "m3", "f2", "f4"],
        Takes = 2,
    };

    private static readonly KeywordOptions ScenarioOptions = new()
    {
        BaseFamilies = ["en-us", "en-gb"],
        BaseWords = ["yes", "no", "up"],
        NewWords = ["zero"],
        Shots = [4],
        Seeds = [1],
        ReplayCapacity = 100,
    };

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cl-kw-scenario-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void The_split_gives_each_clean_clip_one_role_and_its_noisy_copies_the_same()
    {
        var corpus = FakeCorpus();
        var roles = KeywordSplit.Assign(corpus, ["en-us"], seed: 3);

        var byIdentity = corpus.Clips.Select((c, i) => (Id: (c.Word, c.Accent, c.Variant, c.Take), Role: roles[i])).GroupBy(x => x.Id).ToList();
        Assert.All(byIdentity, g => Assert.Single(g.Select(x => x.Role).Distinct()));
        // Base family: 24 identities per word → 12 train, 6 device pool, 6 held out. New family: 10 pool, 14 held out, none trained on.
        var yesUs = byIdentity.Where(g => g.Key.Word == "yes" && g.Key.Accent == "en-us").Select(g => g.First().Role).ToList();
        Assert.Equal((12, 6, 6), (yesUs.Count(r => r == ClipRole.BaseTrain), yesUs.Count(r => r == ClipRole.Adapt), yesUs.Count(r => r == ClipRole.Test)));
        var yesNew = byIdentity.Where(g => g.Key.Word == "yes" && g.Key.Accent == "en-029").Select(g => g.First().Role).ToList();
        Assert.Equal((0, 10, 14), (yesNew.Count(r => r == ClipRole.BaseTrain), yesNew.Count(r => r == ClipRole.Adapt), yesNew.Count(r => r == ClipRole.Test)));
        // Seeded: the same seed splits the same way, another seed differently.
        Assert.Equal(roles, KeywordSplit.Assign(corpus, ["en-us"], seed: 3));
        Assert.NotEqual(roles, KeywordSplit.Assign(corpus, ["en-us"], seed: 4));
    }

    [Fact]
    public void Replay_keeps_old_classes_that_fine_tuning_on_a_new_class_alone_forgets()
    {
        // Four Gaussian blobs in 8 dimensions: the base knows three, the device learns the fourth from 10 samples.
        var engine = new ManagedEngine();
        var options = new KeywordOptions { Hidden = [16], BaseEpochs = 30, AdaptEpochs = 30, AdaptLearningRate = 0.01f, BaseLearningRate = 0.01f, ReplayCapacity = 200 };
        var old = Blobs(classes: [0, 1, 2], perClass: 100, seed: 1);
        var oldTest = Blobs(classes: [0, 1, 2], perClass: 100, seed: 2);
        var spec = new HeadSpec([8, 16, 3], LossKind.SoftmaxCrossEntropy);
        var baseWeights = KeywordTraining.TrainBase(engine, spec, old, options, seed: 1);
        var grown = HeadGrowth.AddClasses(spec, baseWeights, 1);
        var fresh = Blobs(classes: [3], perClass: 10, seed: 3);
        var newTest = Blobs(classes: [3], perClass: 100, seed: 4);
        var replay = KeywordTraining.ReplayFrom(old, 3, options, seed: 1);

        double Old(StrategyKind k) => KeywordTraining.Accuracy(engine, grown.Spec, KeywordTraining.Adapt(k, engine, grown.Spec, grown.Weights, fresh, replay, options, 1).Weights, oldTest);
        double New(StrategyKind k) => KeywordTraining.Accuracy(engine, grown.Spec, KeywordTraining.Adapt(k, engine, grown.Spec, grown.Weights, fresh, replay, options, 1).Weights, newTest);

        Assert.True(KeywordTraining.Accuracy(engine, spec, baseWeights, oldTest) > 0.95);
        Assert.Equal(0, New(StrategyKind.NoUpdate));
        Assert.True(New(StrategyKind.Stateful) > 0.9, $"fine-tune recall {New(StrategyKind.Stateful):P1}");
        Assert.True(New(StrategyKind.Replay) > 0.9, $"replay recall {New(StrategyKind.Replay):P1}");
        Assert.True(Old(StrategyKind.Stateful) < 0.6, $"fine-tuning on the new class alone kept {Old(StrategyKind.Stateful):P1} of old accuracy");
        Assert.True(Old(StrategyKind.Replay) > 0.9, $"replay kept only {Old(StrategyKind.Replay):P1}");
        Assert.True(Old(StrategyKind.Ewc) > 0.9, $"replay+EWC kept only {Old(StrategyKind.Ewc):P1}");
    }

    [Fact]
    public void A_small_real_run_learns_a_new_keyword_that_no_update_cannot_and_keeps_the_old_ones()
    {
        SpeechTestSupport.RequireModels();
        var corpus = KeywordCorpusFixture.Get(ScenarioSpec);
        var embeddings = Embed(corpus, PoolMode.MeanMax);

        var cells = KeywordExperiment.Run(embeddings, ScenarioOptions, [StrategyKind.NoUpdate, StrategyKind.Stateful, StrategyKind.Replay], new ManagedEngine());
        foreach (var line in KeywordReport.TableLines(cells)) output.WriteLine(line);

        KeywordCell Cell(KeywordScenario s, StrategyKind k) => cells.Single(c => c.Scenario == s && c.Strategy == k);
        var none = Cell(KeywordScenario.NewKeywords, StrategyKind.NoUpdate);
        var replay = Cell(KeywordScenario.NewKeywords, StrategyKind.Replay);
        Assert.True(none.OldBefore >= 0.8, $"base model scores {none.OldBefore:P1} on held-out clips of 3 words");
        Assert.Equal(0, none.NewAfter);
        // 4 clips of "zero": replay must recognise most held-out "zero" clips and lose at most a quarter of old accuracy.
        Assert.True(replay.NewAfter >= 0.75, $"new-word recall with replay {replay.NewAfter:P1}");
        Assert.True(replay.OldAfter >= replay.OldBefore - 0.25, $"old accuracy {replay.OldBefore:P1} → {replay.OldAfter:P1}");
        Assert.Equal(4, replay.Clips);
        Assert.True(replay.SampleGradients > 0);
        // Every scenario ran: one new family, the keyword and the noise condition.
        Assert.Equal(["en-gb-scotland", "zero", "noisy"], cells.Where(c => c.Strategy == StrategyKind.NoUpdate).Select(c => c.Condition));
    }

    [Fact]
    public void The_mean_and_max_halves_of_a_mean_max_embedding_are_what_mean_and_max_pipelines_give()
    {
        SpeechTestSupport.RequireModels();
        var corpus = KeywordCorpusFixture.Get();
        var small = corpus with { Clips = [.. corpus.Clips.Take(3)] };
        var meanMax = Embed(small, PoolMode.MeanMax);
        foreach (var pool in new[] { PoolMode.Mean, PoolMode.Max })
        {
            var direct = Embed(small, pool);
            for (var i = 0; i < small.Clips.Count; i++)
                Assert.Equal(direct.Vector(i, pool), meanMax.Vector(i, pool));
        }
    }

    [Fact]
    public void The_base_model_is_a_real_audio_bundle_whose_pipeline_recognises_its_words()
    {
        SpeechTestSupport.RequireModels();
        var corpus = KeywordCorpusFixture.Get(ScenarioSpec);

        var result = KeywordBaseModel.Create(corpus, ["en-us", "en-gb"], ["yes", "no", "up"], _dir, new KeywordOptions { BaseEpochs = 40 });

        var bundle = ModelBundle.Load(_dir);
        Assert.Equal(InputKind.Audio, bundle.Manifest.InputSchema.Kind);
        Assert.Equal(["yes", "no", "up"], bundle.Manifest.Task.LabelNames);
        Assert.Equal(2 * 3 * 4 * 2, result.TrainClips);
        Assert.True(result.TrainAccuracy > 0.9, $"training accuracy {result.TrainAccuracy:P1}");
        // The saved head, fed by the bundle's own pipeline, recognises a clip of the new family it never heard.
        using var pipeline = InputPipelineFactory.Create(bundle);
        using var head = new ManagedEngine().Create(bundle.Head, new TrainingOptions(), bundle.HeadWeights);
        var clips = corpus.Clips.Where(c => c.IsClean && c.Accent == "en-gb-scotland" && c.Word != "zero").ToList();
        var correct = 0;
        foreach (var clip in clips)
        {
            var x = new float[pipeline.OutputSize];
            pipeline.Embed(corpus.Read(clip), x);
            var p = new float[3];
            head.Predict(x, 1, p);
            if (Array.IndexOf(["yes", "no", "up"], clip.Word) == Array.IndexOf(p, p.Max())) correct++;
        }
        Assert.True(correct >= clips.Count * 0.6, $"{correct}/{clips.Count} clips of an unheard accent recognised");
    }

    private KeywordEmbeddings Embed(KeywordCorpus corpus, PoolMode pool)
    {
        var dir = Path.Combine(_dir, "embed-" + pool);
        SpeechBundleBuilder.Save(dir, new SpeechBundleOptions { Name = "embed", LabelNames = ["a", "b"], Pool = pool });
        using var pipeline = InputPipelineFactory.Create(ModelBundle.Load(dir));
        return KeywordEmbeddings.Embed(corpus, pipeline, pool);
    }

    private static List<LabelledRow> Blobs(int[] classes, int perClass, int seed)
    {
        var rng = new Random(seed);
        var rows = new List<LabelledRow>();
        foreach (var c in classes)
        {
            for (var n = 0; n < perClass; n++)
            {
                var x = new float[8];
                for (var d = 0; d < 8; d++) x[d] = (d == c ? 3f : d == c + 4 ? -2f : 0f) + (float)(rng.NextDouble() - 0.5);
                rows.Add(new LabelledRow(x, c));
            }
        }
        return rows;
    }

    private static KeywordCorpus FakeCorpus()
    {
        var spec = new KeywordCorpusSpec { Words = ["yes", "no"], Accents = ["en-us", "en-029"] };
        var clips = new List<KeywordClip>();
        foreach (var p in KeywordCorpusPlan.Clips(spec))
        {
            clips.Add(new KeywordClip($"{p.Word}/{p.Accent}_{p.Variant}_{p.Take}.wav", p.Word, p.Accent, p.Variant, p.Take, p.Speed, p.Pitch, p.GainDb, 0, 1, NoiseKind.None, null));
            clips.Add(new KeywordClip($"{p.Word}/{p.Accent}_{p.Variant}_{p.Take}_n.wav", p.Word, p.Accent, p.Variant, p.Take, p.Speed, p.Pitch, p.GainDb, 0, 1, NoiseKind.Pink, 5));
        }
        return new KeywordCorpus("/nonexistent", spec, clips);
    }
}
