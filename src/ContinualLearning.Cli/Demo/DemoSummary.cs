using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ContinualLearning.Cli.Demo;

/// <summary>One global version in the summary (of the model, or with <c>--clusters</c> of one of its cluster models).</summary>
internal sealed record VersionSummary(
    string Model,
    string Version,
    string? Parent,
    string Outcome,
    int Deltas,
    int Devices,
    long Samples,
    double HeldOutAccuracy,
    double? CanaryAccuracy,
    double? CanaryPreviousAccuracy);

/// <summary>One simulated device in the summary: what its runtime and agent reported.</summary>
internal sealed record DeviceSummary(
    string Device,
    string Role,
    int TrainingRuns,
    int Promotions,
    int DeltasSent,
    long BytesSent,
    double MeanDeltaNorm,
    int ReleasesInstalled,
    string FinalVersion)
{
    /// <summary>The model whose release the device serves at the end (a cluster model with <c>--clusters</c>).</summary>
    public string ServedModel { get; init; } = "";

    /// <summary>The device's group (its final concept), in worlds that score each device on its own held-out block.</summary>
    public string? Group { get; init; }

    /// <summary>Accuracy of the served release on the device's own held-out block; null in worlds without one.</summary>
    public double? HeldOutAccuracy { get; init; }
}

/// <summary>Devices whose data ends in the same concept, and how well their served models fit it.</summary>
internal sealed record GroupSummary(string Group, int Devices, double ServedAccuracy, double BaselineAccuracy);

/// <summary>One cluster of the model at the end of a <c>--clusters</c> run (cluster 0 is the model itself).</summary>
internal sealed record ClusterSummary(
    int Cluster,
    string Model,
    bool Live,
    string? Release,
    string? CreatedFrom,
    string? Creator,
    IReadOnlyList<string> ServedBy,
    double? ServedAccuracy);

/// <summary>The result of a demo run: what the README and CI show, and what the tests assert on.</summary>
internal sealed record DemoSummary
{
    public required string Broker { get; init; }

    /// <summary>How clients reach the broker: mutual TLS with the fleet ACL (the default) or plain TCP (--insecure), and what the ACL refused.</summary>
    public string Transport { get; init; } = "";
    public required string Fleet { get; init; }
    public required int Devices { get; init; }
    public required int PoisonedDevices { get; init; }
    public required int SamplesPerDevice { get; init; }
    public required double WallSeconds { get; init; }
    public required string Engine { get; init; }
    public required string Head { get; init; }
    public required string Scenario { get; init; }
    public required int HeldOutSamples { get; init; }

    /// <summary>What the held-out set is (the world's <see cref="IDemoWorld.HeldOutDescription"/>).</summary>
    public required string HeldOutDescription { get; init; }

    /// <summary>Name of one held-out item, for the short summary line.</summary>
    public required string HeldOutUnit { get; init; }

    /// <summary>Accuracy of the base model that was never updated, on the held-out set.</summary>
    public required double BaselineAccuracy { get; init; }

    /// <summary>The version every device runs at the end (last promoted).</summary>
    public required string FinalVersion { get; init; }

    public required double FinalAccuracy { get; init; }

    public double Improvement => FinalAccuracy - BaselineAccuracy;

    /// <summary>Concept-aware aggregation was on (<c>--clusters</c>).</summary>
    public bool Clustering { get; init; }

    /// <summary>
    /// Mean over devices of the accuracy of the release each device serves at the end on its own held-out block
    /// (with <c>--clusters</c>, its cluster's model); null in worlds without per-device held-out data.
    /// </summary>
    public double? ServedAccuracy { get; init; }

    /// <summary>The no-update base model on the same per-device blocks.</summary>
    public double? ServedBaselineAccuracy { get; init; }

    /// <summary>Per group (final concept) of devices; empty in worlds without per-device held-out data.</summary>
    public IReadOnlyList<GroupSummary> Groups { get; init; } = [];

    /// <summary>The model's clusters with <c>--clusters</c>, live and retired; empty without.</summary>
    public IReadOnlyList<ClusterSummary> Clusters { get; init; } = [];

    public int LiveClusters => Clusters.Count(c => c.Live);

    public required IReadOnlyList<VersionSummary> Versions { get; init; }

    public int VersionsReleased => Versions.Count(v => v.Outcome != nameof(VersionOutcome.Base));
    public int Promotions => Versions.Count(v => v.Outcome == nameof(VersionOutcome.Promoted));
    public int Rollbacks => Versions.Count(v => v.Outcome == nameof(VersionOutcome.RolledBack));

    public required int DeltasSent { get; init; }
    public required int DeltasReceived { get; init; }
    public required int DeltasAccepted { get; init; }
    public required int DeltasRejected { get; init; }
    public required IReadOnlyDictionary<string, int> RejectReasons { get; init; }

    /// <summary>Delta bytes the devices published.</summary>
    public required long BytesSent { get; init; }

    /// <summary>What the same updates would have cost as full fp32 weights (deltas sent × head size).</summary>
    public required long FullWeightBytes { get; init; }

    /// <summary>Mean L2 norm of the deltas as the broker acknowledged them (honest and poisoned together); NaN when none was sent.</summary>
    public required double MeanDeltaNorm { get; init; }

    public double CompressionRatio => BytesSent == 0 ? 0 : (double)FullWeightBytes / BytesSent;

    public required int DevicePromotions { get; init; }
    public required int ReleasesInstalled { get; init; }

    /// <summary>Per device, in device order.</summary>
    public required IReadOnlyList<DeviceSummary> PerDevice { get; init; }

    /// <summary>Which classes ran each part.</summary>
    public required IReadOnlyDictionary<string, string> Components { get; init; }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public string ToMarkdown()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(c, $"# cl demo summary");
        sb.AppendLine();
        sb.AppendLine(c, $"{Devices} devices ({PoisonedDevices} poisoned), {SamplesPerDevice} samples each, broker {Broker}, fleet `{Fleet}`, {WallSeconds:0.0} s wall time.");
        sb.AppendLine(c, $"Transport: {Transport}.");
        sb.AppendLine(c, $"Scenario: {Scenario}. Head {Head}, engine {Engine}.");
        sb.AppendLine();
        // With clusters no single model is what the fleet serves: the pooled figure is cluster 0's release alone.
        var final = Clustering ? $"cluster 0's release {FinalVersion} alone" : $"final global {FinalVersion}";
        sb.AppendLine(c, $"**Held-out accuracy** ({HeldOutSamples} {HeldOutDescription}): {final} **{FinalAccuracy:P1}** vs no-update baseline **{BaselineAccuracy:P1}** ({Improvement * 100:+0.0;-0.0} points).");
        sb.AppendLine();
        if (ServedAccuracy is { } served)
        {
            sb.AppendLine(c, $"**Each device's served model on its own concept** ({(Clustering ? "its cluster's release" : "the fleet's release")}): **{served:P1}** vs no-update baseline **{ServedBaselineAccuracy:P1}** ({(served - ServedBaselineAccuracy!.Value) * 100:+0.0;-0.0} points).");
            sb.AppendLine();
            sb.AppendLine("| group | devices | served model accuracy | no-update baseline |");
            sb.AppendLine("|---|---:|---:|---:|");
            foreach (var g in Groups)
                sb.AppendLine(c, $"| {g.Group} | {g.Devices} | {g.ServedAccuracy:P1} | {g.BaselineAccuracy:P1} |");
            sb.AppendLine();
        }
        if (Clusters.Count > 0)
        {
            sb.AppendLine(c, $"**Clusters** ({LiveClusters} live):");
            sb.AppendLine();
            sb.AppendLine("| cluster | model | state | release | created from | creator | served by | accuracy on their data |");
            sb.AppendLine("|---:|---|---|---|---|---|---|---:|");
            foreach (var k in Clusters)
            {
                var accuracy = k.ServedAccuracy is { } a ? a.ToString("P1", c) : "—";
                sb.AppendLine(c, $"| {k.Cluster} | {k.Model} | {(k.Live ? "live" : "retired")} | {k.Release ?? "—"} | {k.CreatedFrom ?? "—"} | {k.Creator ?? "—"} | {(k.ServedBy.Count == 0 ? "—" : string.Join(", ", k.ServedBy))} | {accuracy} |");
            }
            sb.AppendLine();
        }
        sb.AppendLine("| model | version | parent | outcome | deltas | devices | samples | held-out acc | canary / control accuracy |");
        sb.AppendLine("|---|---|---|---|---:|---:|---:|---:|---|");
        foreach (var v in Versions)
        {
            var canary = v.CanaryAccuracy is { } a ? string.Format(c, "{0:P1} / {1:P1}", a, v.CanaryPreviousAccuracy) : "";
            sb.AppendLine(c, $"| {v.Model} | {v.Version} | {v.Parent ?? "—"} | {v.Outcome} | {v.Deltas} | {v.Devices} | {v.Samples} | {v.HeldOutAccuracy:P1} | {canary} |");
        }
        sb.AppendLine();
        sb.AppendLine(c, $"- Versions released: {VersionsReleased} (promoted {Promotions}, rolled back {Rollbacks})");
        sb.AppendLine(c, $"- Deltas: sent {DeltasSent}, received {DeltasReceived}, accepted {DeltasAccepted}, rejected or dropped {DeltasRejected}{Reasons()}");
        sb.AppendLine(c, $"- Bytes: {BytesSent:N0} B of deltas vs {FullWeightBytes:N0} B as full fp32 weights: **{CompressionRatio:0.#}× smaller** (mean delta L2 norm {MeanDeltaNorm:0.###})");
        sb.AppendLine(c, $"- On devices: {DevicePromotions} local promotions, {ReleasesInstalled} releases installed (signature and hashes verified)");
        sb.AppendLine();
        sb.AppendLine("| device | role | group | trainings | promotions | deltas | bytes | mean delta norm | releases | serves | accuracy on its data |");
        sb.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|");
        foreach (var d in PerDevice)
        {
            var accuracy = d.HeldOutAccuracy is { } a ? a.ToString("P1", c) : "—";
            sb.AppendLine(c, $"| {d.Device} | {d.Role} | {d.Group ?? "—"} | {d.TrainingRuns} | {d.Promotions} | {d.DeltasSent} | {d.BytesSent:N0} | {d.MeanDeltaNorm:0.###} | {d.ReleasesInstalled} | {d.ServedModel} {d.FinalVersion} | {accuracy} |");
        }
        sb.AppendLine();
        sb.AppendLine(c, $"- Components: {string.Join(", ", Components.Select(kv => $"{kv.Key} = {kv.Value}"))}");
        return sb.ToString();
    }

    private string Reasons() => RejectReasons.Count == 0 ? "" : " (" + string.Join(", ", RejectReasons.Select(kv => $"{kv.Key}: {kv.Value}")) + ")";
}
