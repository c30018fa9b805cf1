using ContinualLearning.Tensors;

namespace ContinualLearning.Training;

/// <summary>
/// Deterministic initial weights for a head, shared by every engine so that "same spec + same seed"
/// gives the same starting point whichever engine trains it.
/// </summary>
/// <remarks>
/// The distribution is PyTorch's nn.Linear default (kaiming_uniform_ with a = √5 for the weight, which
/// reduces to U(−1/√fan_in, 1/√fan_in), and the same bound for the bias). The random stream is .NET's, not
/// PyTorch's, so the values differ from <c>torch.manual_seed</c> runs but are identical across engines and
/// platforms: <see cref="Random(int)"/> with a seed uses a fixed, documented-stable algorithm.
/// Order of draws: for each Linear layer in order, all weight values in row-major [out, in] order, then
/// all bias values; each value is <c>(float)((2·NextDouble() − 1) · bound)</c>.
/// </remarks>
public static class HeadInitializer
{
    /// <summary>Returns freshly initialised weights in state_dict order ("0.weight", "0.bias", "2.weight", ...).</summary>
    public static IReadOnlyList<NamedTensor> Initialize(HeadSpec spec, int seed)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var random = new Random(seed);
        var result = new List<NamedTensor>(2 * spec.LinearCount);
        for (var l = 0; l < spec.LinearCount; l++)
        {
            var fanIn = spec.LayerSizes[l];
            var fanOut = spec.LayerSizes[l + 1];
            var bound = 1.0 / Math.Sqrt(fanIn);
            var weight = new float[fanOut * fanIn];
            Fill(random, weight, bound);
            var bias = new float[fanOut];
            Fill(random, bias, bound);
            result.Add(new NamedTensor(HeadSpec.WeightName(l), [fanOut, fanIn], weight));
            result.Add(new NamedTensor(HeadSpec.BiasName(l), [fanOut], bias));
        }
        return result;
    }

    private static void Fill(Random random, float[] values, double bound)
    {
        for (var i = 0; i < values.Length; i++)
            values[i] = (float)((2.0 * random.NextDouble() - 1.0) * bound);
    }
}
