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

    /// <inheritdoc/>
    public string Name => EngineName;

    /// <inheritdoc/>
    public IHeadModel Create(HeadSpec spec, TrainingOptions options, IReadOnlyList<NamedTensor>? initialWeights = null, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var layout = new ParameterLayout(spec);
        var parameters = new float[layout.Total];
        layout.Gather(initialWeights ?? HeadInitializer.Initialize(spec, seed), parameters, "initial weights");
        return new ManagedHead(spec, options, parameters);
    }
}
