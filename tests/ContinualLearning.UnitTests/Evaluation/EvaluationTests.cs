using ContinualLearning.Drift;
using ContinualLearning.Evaluation;
using ContinualLearning.Streams;
using ContinualLearning.UnitTests.Streams;

namespace ContinualLearning.UnitTests.Evaluation;

public sealed class EvaluationTests(ITestOutputHelper output)
{
    /// <summary>Memorises every (x, y) it learns: perfect if trained before testing, chance if tested first.</summary>
    private sealed class Memorizer : IOnlineClassifier
    {
        private readonly Dictionary<float, int> _seen = [];

        public int Predict(ReadOnlySpan<float> x) => _seen.GetValueOrDefault(x[0]);

        public void Learn(ReadOnlySpan<float> x, int y) => _seen[x[0]] = y;
    }

    [Fact]
    public void Evaluation_tests_before_it_trains()
    {
        var rng = new Random(1);
        var samples = Enumerable.Range(0, 4000).Select(i => new Sample([i], rng.Next(2))).ToList();
        var r = PrequentialEvaluator.Run(samples, new Memorizer());
        Assert.Equal(4000, r.Samples);
        Assert.InRange(r.Accuracy, 0.45, 0.55); // every x is new when predicted: a coin flip, not 100%
    }

    [Fact]
    public void Windowed_and_fading_accuracy_match_hand_computation()
    {
        var m = new PrequentialAccuracy(windowSize: 3, fadingFactor: 0.5);
        // correct, wrong, correct, correct
        m.Update(1, 1);
        m.Update(1, 0);
        m.Update(0, 0);
        m.Update(1, 1);
        Assert.Equal(0.75, m.Accuracy);
        Assert.Equal(2.0 / 3, m.WindowedAccuracy, 12); // last three: wrong, correct, correct
        Assert.True(m.WindowFull);
        // Fading: (1 + 0.5·1 + 0.25·0 + 0.125·1) / (1 + 0.5 + 0.25 + 0.125) = 1.625 / 1.875
        Assert.Equal(1.625 / 1.875, m.FadingAccuracy, 12);
    }

    [Fact]
    public void Baselines_follow_their_definitions()
    {
        var majority = new MajorityClass();
        var last = new LastClass();
        Assert.Equal(0, majority.Predict([]));
        Assert.Equal(0, last.Predict([]));
        foreach (var y in new[] { 2, 1, 1, 2, 2, 0 })
        {
            majority.Learn([], y);
            last.Learn([], y);
        }
        Assert.Equal(2, majority.Predict([])); // 2 seen three times
        Assert.Equal(0, last.Predict([]));
        var tie = new MajorityClass();
        tie.Learn([], 1);
        tie.Learn([], 0);
        Assert.Equal(0, tie.Predict([])); // ties go to the lowest index
    }

    [Fact]
    public void Adaptation_delay_counts_samples_until_a_full_post_drift_window_recovers()
    {
        // 100 correct, drift at 100, 30 wrong, then correct: W = 10, τ = 0 → first fully correct window starts at 130.
        var correct = Enumerable.Range(0, 200).Select(t => t < 100 || t >= 130).ToList();
        var r = Assert.Single(AdaptationDelay.Compute(correct, [100], window: 10, tolerance: 0));
        Assert.Equal(1.0, r.PreDriftAccuracy);
        Assert.Equal(30, r.Delay);
        Assert.Equal(0.0, r.LowestAccuracy);
        // With τ = 0.2 a window with 2 errors is "recovered": it starts at 128.
        Assert.Equal(28, AdaptationDelay.Compute(correct, [100], 10, 0.2)[0].Delay);
        // No loss at all: delay 0. Never recovering before the next drift: null.
        Assert.Equal(0, AdaptationDelay.Compute([.. Enumerable.Repeat(true, 50)], [20], 10, 0)[0].Delay);
        var never = AdaptationDelay.Compute(correct, [100, 125], 10, 0);
        Assert.Null(never[0].Delay);
        Assert.False(never[0].Recovered);
    }

    [Fact]
    public void Sea_abrupt_drift_dips_recovers_and_is_detected()
    {
        // SEA θ 7 → 9.5 at 5000 (≈ 21% of the input space changes class), 10% noise, kNN over the last 1000.
        var stream = ConceptDriftStream.Sea([3, 4], [5000], noise: 0.1, seed: 2);
        var adwin = new Adwin();
        var r = PrequentialEvaluator.Run(stream, new SlidingKnn(capacity: 1000), new PrequentialOptions
        {
            MaxSamples = 10_000,
            WindowSize = 500,
            RecordEvery = 500,
            DriftPoints = [5000],
            RecoveryTolerance = 0.02,
            Detectors = [adwin],
        });
        var a = Assert.Single(r.Adaptation);
        var detections = r.Detections[adwin.Name];
        output.WriteLine($"accuracy {r.Accuracy:F4}; pre-drift {a.PreDriftAccuracy:F3}, lowest {a.LowestAccuracy:F3}, delay {a.Delay}; ADWIN alarms at {string.Join(",", detections)}");
        Assert.Equal(10_000, r.Samples);
        Assert.Equal(20, r.Series.Count);
        Assert.True(a.LowestAccuracy < a.PreDriftAccuracy - 0.05, "the concept change must cost accuracy");
        Assert.True(a.Recovered);
        // kNN forgets the old concept as its 1000-sample memory turns over (measured: delay 378, ADWIN at 5247).
        Assert.InRange(a.Delay!.Value, 1, 1000);
        Assert.Contains(detections, t => t is >= 5000 and < 6000);
        using var csv = new StringWriter();
        r.WriteCsv(csv);
        var lines = csv.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("samples,accuracy,windowed_accuracy,fading_accuracy", lines[0]);
        Assert.Equal(21, lines.Length);
        Assert.StartsWith("10000,", lines[^1]);
    }

    [Fact]
    public void Forgetting_is_measured_on_held_out_samples_of_the_old_concept()
    {
        // Noise-free held-out SEA concept 3 (θ = 7); then the model sees only concept 4 (θ = 9.5).
        var heldOut = new SeaGenerator(3, noise: 0, seed: 100).Limit(1000).ToList();
        var knn = new SlidingKnn(capacity: 500);
        foreach (var s in new SeaGenerator(3, noise: 0, seed: 1).Limit(500))
        {
            knn.Learn(s.Features, s.Label);
        }
        var result = Forgetting.Measure(knn, heldOut, () =>
        {
            foreach (var s in new SeaGenerator(4, noise: 0, seed: 2).Limit(500))
            {
                knn.Learn(s.Features, s.Label);
            }
        });
        output.WriteLine($"before {result.AccuracyBefore:F3} after {result.AccuracyAfter:F3} forgetting {result.Forgetting:F3}");
        Assert.True(result.AccuracyBefore > 0.9);
        // P(7 < f1 + f2 ≤ 9.5) ≈ 0.21 of the old concept now gets the other label.
        Assert.InRange(result.Forgetting, 0.12, 0.28);
        Assert.Equal(-result.Forgetting, result.BackwardTransfer, 12);
    }

    [FactRequiresData("elec2.csv")]
    public void Elec2_naive_baselines_match_the_published_figures()
    {
        var elec = CsvStream.Load(DataFiles.Elec2);
        var last = PrequentialEvaluator.Run(elec, new LastClass());
        var majority = PrequentialEvaluator.Run(elec, new MajorityClass());
        output.WriteLine($"LastClass {last.Accuracy:P4}, prequential MajorityClass {majority.Accuracy:P4} over {last.Samples} samples");
        Assert.Equal(45_312, last.Samples);
        // Published "last class" 85.33% (the first prediction, before any label, is class 0 = DOWN; the first row is UP).
        Assert.Equal(0.8533, last.Accuracy, 0.0001);
        // Online majority (counts learnt as the stream goes) = 57.54%; the offline "always DOWN" figure is 57.55%.
        Assert.Equal(0.5754, majority.Accuracy, 0.0001);
        Assert.Equal(0.5755, elec.Count(s => s.Label == 0) / (double)elec.Count, 0.0001);
    }
}
