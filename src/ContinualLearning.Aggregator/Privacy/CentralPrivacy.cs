using ContinualLearning.Privacy;

namespace ContinualLearning.Aggregator.Privacy;

/// <summary>Central differential privacy at the aggregator (<c>aggregation:privacy:*</c>; docs/federated.md, "Differential privacy").</summary>
public sealed record CentralPrivacyOptions
{
    /// <summary>
    /// σ: the noise added to a round's aggregate has standard deviation σ × (the most one device can move it), where a
    /// device's update is clipped to <see cref="ValidationOptions.MaxNorm"/>. 0 turns the noise off.
    /// </summary>
    public double NoiseMultiplier { get; init; }

    /// <summary>δ at which the registry records each version's ε.</summary>
    public double Delta { get; init; } = 1e-5;

    /// <summary>True when rounds add noise.</summary>
    public bool Enabled => NoiseMultiplier > 0;
}

/// <summary>What the noise of one round was: σ, the clip C, the devices, and the standard deviation actually added.</summary>
/// <param name="NoiseMultiplier">σ.</param>
/// <param name="ClipNorm">C: the L2 bound of one device's update in the round.</param>
/// <param name="Devices">Devices aggregated.</param>
/// <param name="NoiseStd">Standard deviation of the noise added to each coordinate of the aggregate.</param>
internal sealed record RoundPrivacy(double NoiseMultiplier, double ClipNorm, int Devices, double NoiseStd);

/// <summary>
/// DP-FedAvg's server step (McMahan, Ramage, Talwar &amp; Zhang 2018, "Learning Differentially Private Recurrent
/// Language Models", Algorithm 1): each device's round update is already clipped to C by the round, the weighted mean
/// is taken, and N(0, (σ·C·w_max/Σw)²) is added to every coordinate. C·w_max/Σw bounds how far one device can move the
/// weighted mean with the round's weights held fixed (the fixed-denominator estimator of that paper; with equal
/// weights it is C/n). The noise covers the shared parameters only: rows of classes new to the fleet are not noised,
/// so the configuration refuses class growth when noise is on.
/// </summary>
internal static class CentralNoise
{
    /// <summary>Adds the noise to <paramref name="aggregate"/> in place and says what was added.</summary>
    public static RoundPrivacy Apply(Span<float> aggregate, IReadOnlyList<double> weights, double clipNorm, CentralPrivacyOptions options, GaussianNoise noise)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(noise);
        if (weights.Count == 0) throw new ArgumentException("A round with noise needs at least one device.", nameof(weights));
        var total = weights.Sum();
        var std = options.NoiseMultiplier * clipNorm * weights.Max() / total;
        noise.Add(aggregate, std);
        return new RoundPrivacy(options.NoiseMultiplier, clipNorm, weights.Count, std);
    }

    /// <summary>ε at δ of one round for a device in it (the Gaussian mechanism without subsampling: RDP α/(2σ²)).</summary>
    public static double RoundEpsilon(double noiseMultiplier, double delta) => RdpAccountant.Epsilon(1.0, noiseMultiplier, 1, delta);
}
