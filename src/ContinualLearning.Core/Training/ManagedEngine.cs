using ContinualLearning.Tensors;
using ContinualLearning.Training.Internal;

namespace ContinualLearning.Training;

/// <summary>
/// The pure C# training engine ("managed"): runs wherever .NET runs, including linux-arm64 where libtorch does not.
/// Element-wise maths goes through <see cref="System.Numerics.Tensors.TensorPrimitives"/> (SIMD), matrix products
/// through <see cref="Gemm"/>. It implements the same losses and optimisers as the torch engine so weights are interchangeable.
/// </summary>
public sealed class ManagedEngine : ITrainingEngine
{
    /// <summary>The engine's name in configuration.</summary>
    public const string EngineName = "managed";

    public string Name => EngineName;

    public IHeadModel Create(HeadSpec spec, TrainingOptions options, IReadOnlyList<NamedTensor>? initialWeights = null, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var layout = new ParameterLayout(spec);
        var parameters = new float[layout.Total];
        layout.Gather(initialWeights ?? InitialWeights(spec, seed), parameters, "initial weights");
        return new ManagedHead(spec, options, parameters);
    }

    // Stand-in until the shared HeadInitializer lands: PyTorch nn.Linear's default, U(−1/√fan_in, 1/√fan_in)
    // for weights (kaiming_uniform with a=√5) and biases.
    private static NamedTensor[] InitialWeights(HeadSpec spec, int seed)
    {
        var random = new Random(seed);
        var result = new List<NamedTensor>();
        for (var l = 0; l < spec.LinearCount; l++)
        {
            int inSize = spec.LayerSizes[l], outSize = spec.LayerSizes[l + 1];
            var bound = 1.0 / Math.Sqrt(inSize);
            var w = new float[outSize * inSize];
            var b = new float[outSize];
            for (var i = 0; i < w.Length; i++) w[i] = (float)((random.NextDouble() * 2 - 1) * bound);
            for (var i = 0; i < b.Length; i++) b[i] = (float)((random.NextDouble() * 2 - 1) * bound);
            result.Add(new NamedTensor(HeadSpec.WeightName(l), [outSize, inSize], w));
            result.Add(new NamedTensor(HeadSpec.BiasName(l), [outSize], b));
        }
        return result.ToArray();
    }
}
