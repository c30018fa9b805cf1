using ContinualLearning.Tensors;

namespace ContinualLearning.Training;

/// <summary>
/// FedProx's proximal term (Li et al. 2020, "Federated Optimization in Heterogeneous Networks"): <c>μ/2 · ‖θ − θ_g‖²</c>
/// added to the device's local loss, θ_g the global release the run's delta is measured against. It is an
/// <see cref="EwcPenalty"/> with a unit Fisher, so both engines train with it through their one penalty path. Pure.
/// </summary>
public static class ProximalPenalty
{
    /// <summary>
    /// <paramref name="ewc"/> with the proximal term <c>μ/2 · Σ_{i ∉ excluded} (θ_i − g_i)²</c> folded in: one quadratic
    /// <c>λ/2 · Σ F'_i (θ_i − a'_i)²</c> with <c>F' = F + μ/λ</c> and <c>a' = (F·a + μ/λ·g) / F'</c>, which has the same
    /// gradient as the two terms (the loss differs by a constant). Tensors named in <paramref name="excluded"/> (a
    /// personal head) pay no proximal term. μ = 0 returns <paramref name="ewc"/> itself, so training is unchanged.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">μ is negative or not finite.</exception>
    /// <exception cref="ArgumentException">The anchor's tensors do not match the EWC anchor's names and shapes.</exception>
    public static EwcPenalty? Combine(EwcPenalty? ewc, IReadOnlyList<NamedTensor> globalWeights, float mu, IReadOnlySet<string>? excluded = null)
    {
        ArgumentNullException.ThrowIfNull(globalWeights);
        if (!float.IsFinite(mu) || mu < 0)
            throw new ArgumentOutOfRangeException(nameof(mu), mu, $"FedProx μ is {mu}; it must be 0 (off) or a finite positive number such as 0.01.");
        if (mu == 0) return ewc;
        if (ewc is null || ewc.Lambda == 0)
        {
            var unit = globalWeights.Select(t => Filled(t, excluded?.Contains(t.Name) == true ? 0f : 1f)).ToArray();
            return new EwcPenalty([.. globalWeights.Select(t => t.Clone())], unit, mu);
        }
        var ratio = mu / ewc.Lambda;
        var byName = globalWeights.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var anchor = new NamedTensor[ewc.Anchor.Count];
        var fisher = new NamedTensor[ewc.Anchor.Count];
        for (var k = 0; k < ewc.Anchor.Count; k++)
        {
            var a = ewc.Anchor[k];
            var f = ewc.Fisher[k];
            if (!byName.TryGetValue(a.Name, out var g) || !g.Shape.AsSpan().SequenceEqual(a.Shape) || !f.Shape.AsSpan().SequenceEqual(a.Shape))
                throw new ArgumentException($"The FedProx anchor has no tensor '{a.Name}' of shape [{string.Join(", ", a.Shape)}] matching the EWC anchor.", nameof(globalWeights));
            var w = excluded?.Contains(a.Name) == true ? 0f : ratio;
            var combinedAnchor = a.Clone();
            var combinedFisher = f.Clone();
            for (var i = 0; i < a.Count; i++)
            {
                var total = f.Data[i] + w;
                combinedFisher.Data[i] = total;
                // Equal anchors (a run starting from the release itself) stay exact rather than a rounded weighted mean.
                if (total > 0 && a.Data[i] != g.Data[i])
                    combinedAnchor.Data[i] = (f.Data[i] * a.Data[i] + w * g.Data[i]) / total;
            }
            anchor[k] = combinedAnchor;
            fisher[k] = combinedFisher;
        }
        return new EwcPenalty(anchor, fisher, ewc.Lambda);
    }

    private static NamedTensor Filled(NamedTensor like, float value)
    {
        var data = new float[like.Count];
        Array.Fill(data, value);
        return new NamedTensor(like.Name, (int[])like.Shape.Clone(), data);
    }
}
