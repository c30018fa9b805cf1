namespace ContinualLearning.Device.Configuration;

/// <summary>
/// The device's ε ledger (<c>privacy:*</c>; docs/federated.md, "Differential privacy"). The noise itself is added by
/// the aggregator (central DP); the device counts what its contributions cost under that noise and stops contributing
/// before its budget would be exceeded.
/// </summary>
public sealed record DevicePrivacyOptions
{
    /// <summary>ε budget at <see cref="Delta"/> over the device's whole life; null keeps no ledger and never stops.</summary>
    public double? EpsilonBudget { get; init; }

    /// <summary>δ of the budget.</summary>
    public double Delta { get; init; } = 1e-5;

    /// <summary>σ the aggregator adds (its <c>aggregation:privacy:noiseMultiplier</c>); the ledger charges each delta at it.</summary>
    public double NoiseMultiplier { get; init; }

    /// <summary>
    /// q: the device sends each delta with this probability (a CSPRNG coin), and the ledger amplifies by it (Poisson
    /// subsampling); 1 sends every delta.
    /// </summary>
    public double ParticipationRate { get; init; } = 1.0;

    /// <summary>True when a ledger is kept.</summary>
    public bool Enabled => EpsilonBudget is not null;
}
