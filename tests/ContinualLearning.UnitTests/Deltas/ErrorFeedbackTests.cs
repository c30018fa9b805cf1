using ContinualLearning.Deltas;
using ContinualLearning.Tensors;

namespace ContinualLearning.UnitTests.Deltas;

public class ErrorFeedbackTests
{
    [Theory]
    [InlineData(DeltaEncoding.Int8, 0.01)]
    [InlineData(DeltaEncoding.Float16, 0.01)]
    [InlineData(DeltaEncoding.Int8, 0.002)]
    public void Every_coordinate_is_eventually_sent_and_the_sent_sum_tracks_the_true_sum(DeltaEncoding encoding, double fraction)
    {
        var rng = new Random(99);
        const int n = 1000;
        const int rounds = 1500;
        // A persistent direction (magnitudes bounded away from 0) plus noise, like successive SGD increments.
        var direction = Enumerable.Range(0, n).Select(_ => (float)((rng.Next(2) * 2 - 1) * (0.5 + 0.5 * rng.NextDouble()))).ToArray();
        var feedback = new ErrorFeedback();
        var options = new DeltaCompressionOptions(fraction, encoding);
        var trueSum = new double[n];
        var sentSum = new double[n];
        var everSent = new bool[n];
        var residualNorms = new List<double>();
        var midpointRelativeError = 0.0;

        for (var r = 0; r < rounds; r++)
        {
            var step = direction.Select(d => d + (float)(rng.NextDouble() - 0.5) * 0.2f).ToArray();
            for (var i = 0; i < n; i++) trueSum[i] += step[i];
            var sent = feedback.Compress([new NamedTensor("w", [n], step)], options)[0];
            Assert.NotNull(sent.Indices);
            for (var j = 0; j < sent.Count; j++)
            {
                sentSum[sent.Indices![j]] += sent.Values[j];
                everSent[sent.Indices[j]] = true;
            }
            residualNorms.Add(feedback.ResidualNorm);
            if (r == rounds / 2 - 1) midpointRelativeError = RelativeError(trueSum, sentSum);
        }

        Assert.All(Enumerable.Range(0, n), i => Assert.True(everSent[i], $"coordinate {i} was never sent in {rounds} rounds"));

        // Identity of error feedback: sent + residual = true, up to float accumulation error.
        var residual = feedback.Residuals.Single().Data;
        for (var i = 0; i < n; i++)
            Assert.True(Math.Abs(sentSum[i] + residual[i] - trueSum[i]) <= 1e-3 * (1 + Math.Abs(trueSum[i])), $"coordinate {i}: sent {sentSum[i]} + residual {residual[i]} != true {trueSum[i]}");

        // The residual stays bounded (does not grow with the number of rounds) ...
        var firstHalfMax = residualNorms.Take(rounds / 2).Max();
        var secondHalfMax = residualNorms.Skip(rounds / 2).Max();
        Assert.True(secondHalfMax <= 1.5 * firstHalfMax, $"residual norm grew: {firstHalfMax} then {secondHalfMax}");
        // ... so the relative error of the cumulative sent sum shrinks toward 0 (about 1/rounds).
        var finalRelativeError = RelativeError(trueSum, sentSum);
        Assert.True(finalRelativeError < 0.7 * midpointRelativeError, $"relative error of the sent sum did not shrink: {midpointRelativeError} at the midpoint, {finalRelativeError} at the end");
        if (fraction >= 0.01) Assert.True(finalRelativeError < 0.1, $"relative error of the sent sum {finalRelativeError}");
    }

    private static double RelativeError(double[] truth, double[] estimate) =>
        Math.Sqrt(truth.Zip(estimate, (a, b) => (a - b) * (a - b)).Sum()) / Math.Sqrt(truth.Sum(a => a * a));

    [Fact]
    public void Without_feedback_small_coordinates_are_never_sent()
    {
        // The control for the test above: plain top-k on the same kind of stream starves small coordinates.
        var rng = new Random(5);
        const int n = 1000;
        var direction = Enumerable.Range(0, n).Select(i => i < 10 ? 10f : 0.5f + (float)rng.NextDouble() * 0.5f).ToArray();
        var everSent = new bool[n];
        for (var r = 0; r < 200; r++)
        {
            var sent = DeltaCompressor.Compress([new NamedTensor("w", [n], direction)], new DeltaCompressionOptions(0.01))[0];
            foreach (var i in sent.Indices!) everSent[i] = true;
        }
        Assert.Equal(10, everSent.Count(s => s));
    }

    [Fact]
    public void Residuals_survive_a_save_and_restore()
    {
        var feedback = new ErrorFeedback();
        var step = new NamedTensor("w", [4], [1f, 2f, 3f, 4f]);
        feedback.Compress([step], new DeltaCompressionOptions(0.25));
        var restored = new ErrorFeedback(feedback.Residuals);
        Assert.Equal(feedback.Residuals.Single().Data, restored.Residuals.Single().Data);
        Assert.Equal(Math.Sqrt(1 + 4 + 9), restored.ResidualNorm, 5);
        Assert.Throws<ArgumentException>(() => restored.Compress([new NamedTensor("w", [2, 2], new float[4])], new DeltaCompressionOptions(0.25)));
    }
}
