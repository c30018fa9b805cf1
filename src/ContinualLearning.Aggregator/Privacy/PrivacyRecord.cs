using System.Globalization;
using System.Text.Json;
using ContinualLearning.Privacy;

namespace ContinualLearning.Aggregator.Privacy;

/// <summary>
/// The privacy cost of a version, kept in its metrics JSON (<see cref="Registry.ModelVersionRecord.MetricsJson"/>, so
/// both registry backends store it without a schema change): σ, C, devices and noise of the round, ε of this round and
/// ε of the model along its lineage at δ. The model's ε is that of a device that took part in every noisy round of the
/// lineage: Gaussian mechanisms compose in RDP as α/2·Σ1/σᵢ², so the lineage carries Σ1/σᵢ² and ε is computed from it.
/// A round without noise after noisy ones is counted (<c>dpRoundsWithoutNoise</c>): the model's ε then no longer bounds
/// what the released weights reveal.
/// </summary>
internal static class PrivacyRecord
{
    public const string NoiseMultiplier = "dpNoiseMultiplier";
    public const string ClipNorm = "dpClipNorm";
    public const string Devices = "dpDevices";
    public const string NoiseStd = "dpNoiseStd";
    public const string Delta = "dpDelta";
    public const string RoundEpsilon = "dpEpsilonRound";
    public const string ModelEpsilon = "dpEpsilonModel";
    public const string InverseVarianceSum = "dpInverseVarianceSum";
    public const string RoundsWithoutNoise = "dpRoundsWithoutNoise";

    /// <summary>
    /// <paramref name="metricsJson"/> with the privacy keys of this round added; unchanged when neither this round nor
    /// the parent's lineage had noise.
    /// </summary>
    public static string Add(string metricsJson, RoundPrivacy? round, string? parentMetricsJson, double delta)
    {
        var metrics = Parse(metricsJson);
        var parent = parentMetricsJson is null ? new Dictionary<string, double>() : Parse(parentMetricsJson);
        var sum = parent.GetValueOrDefault(InverseVarianceSum);
        var withoutNoise = parent.GetValueOrDefault(RoundsWithoutNoise);
        if (round is null)
        {
            if (sum == 0) return metricsJson;
            withoutNoise++;
        }
        else
        {
            sum += 1 / (round.NoiseMultiplier * round.NoiseMultiplier);
            metrics[NoiseMultiplier] = round.NoiseMultiplier;
            metrics[ClipNorm] = round.ClipNorm;
            metrics[Devices] = round.Devices;
            metrics[NoiseStd] = round.NoiseStd;
            metrics[RoundEpsilon] = CentralNoise.RoundEpsilon(round.NoiseMultiplier, delta);
        }
        return WithLineage(metrics, sum, withoutNoise, delta);
    }

    /// <summary>
    /// <paramref name="metricsJson"/> with the privacy record of a version built on another model's version without a
    /// round (a cluster model's first version, from <paramref name="parentMetricsJson"/>): the parent's lineage goes on,
    /// and a device update added without noise (<paramref name="addsUpdateWithoutNoise"/>: the cluster's creator's
    /// delta) counts as a round without noise. Unchanged when the parent's lineage had no noise.
    /// </summary>
    public static string Continue(string metricsJson, string? parentMetricsJson, double delta, bool addsUpdateWithoutNoise)
    {
        var parent = parentMetricsJson is null ? new Dictionary<string, double>() : Parse(parentMetricsJson);
        var sum = parent.GetValueOrDefault(InverseVarianceSum);
        if (sum == 0) return metricsJson;
        var withoutNoise = parent.GetValueOrDefault(RoundsWithoutNoise) + (addsUpdateWithoutNoise ? 1 : 0);
        return WithLineage(Parse(metricsJson), sum, withoutNoise, delta);
    }

    /// <summary>The lineage's keys: δ, Σ1/σᵢ², ε of the model from it, and the rounds without noise when there were any.</summary>
    private static string WithLineage(Dictionary<string, double> metrics, double sum, double withoutNoise, double delta)
    {
        metrics[Delta] = delta;
        metrics[InverseVarianceSum] = sum;
        metrics[ModelEpsilon] = RdpAccountant.Epsilon(1.0, 1 / Math.Sqrt(sum), 1, delta);
        if (withoutNoise > 0) metrics[RoundsWithoutNoise] = withoutNoise;
        return JsonSerializer.Serialize(metrics, AggregatorJson.Default.DictionaryStringDouble);
    }

    /// <summary>One line for <c>cl model show</c>; null when the version carries no privacy record.</summary>
    public static string? Describe(string metricsJson)
    {
        var m = Parse(metricsJson);
        if (!m.TryGetValue(ModelEpsilon, out var model)) return null;
        var c = CultureInfo.InvariantCulture;
        var round = m.TryGetValue(NoiseMultiplier, out var sigma)
            ? string.Format(c, "σ {0:0.###}, clip {1:0.####}, {2} devices, noise std {3:0.####}, ε this round {4:0.###}",
                sigma, m.GetValueOrDefault(ClipNorm), (int)m.GetValueOrDefault(Devices), m.GetValueOrDefault(NoiseStd), m.GetValueOrDefault(RoundEpsilon))
            : "no noise this round";
        var unbounded = m.GetValueOrDefault(RoundsWithoutNoise) is var n and > 0
            ? string.Format(c, " (does not bound the release: {0} round(s) without noise)", (int)n) : "";
        return string.Format(c, "{0}; ε model {1:0.###}{2} at δ {3:0.##E+0}", round, model, unbounded, m.GetValueOrDefault(Delta));
    }

    private static Dictionary<string, double> Parse(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var d = new Dictionary<string, double>(StringComparer.Ordinal);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return d;
            foreach (var p in doc.RootElement.EnumerateObject())
                if (p.Value.ValueKind == JsonValueKind.Number) d[p.Name] = p.Value.GetDouble();
            return d;
        }
        catch (JsonException)
        {
            return new Dictionary<string, double>(StringComparer.Ordinal);
        }
    }
}
