using System.Text.Json;
using System.Text.Json.Serialization;
using ContinualLearning.IO;

namespace ContinualLearning.Privacy;

/// <summary>Contributions made under one mechanism: <see cref="Count"/> steps of the Gaussian mechanism with noise multiplier σ, each taken with probability q.</summary>
/// <param name="NoiseMultiplier">σ: noise standard deviation over the clip norm.</param>
/// <param name="SamplingRate">q: the probability that a given step included the contributor (1 = always).</param>
/// <param name="Count">Steps under these parameters.</param>
public sealed record LedgerEntry(double NoiseMultiplier, double SamplingRate, long Count);

/// <summary>
/// A contributor's ε ledger: the mechanisms its contributions went through, persisted with an atomic write after every
/// charge so the count survives a restart or a power cut (an entry is written before the contribution leaves). ε is the
/// RDP composition (<see cref="RdpAccountant"/>) of all entries over <see cref="RdpAccountant.DefaultOrders"/>,
/// converted at δ with <see cref="RdpConversion.Improved"/>.
/// </summary>
public sealed class PrivacyLedger
{
    private readonly string _path;
    private readonly List<LedgerEntry> _entries;

    private PrivacyLedger(string path, List<LedgerEntry> entries)
    {
        _path = path;
        _entries = entries;
    }

    /// <summary>The entries, one per distinct (σ, q).</summary>
    public IReadOnlyList<LedgerEntry> Entries => _entries;

    /// <summary>Contributions charged so far.</summary>
    public long Contributions => _entries.Sum(e => e.Count);

    /// <summary>Reads the ledger at <paramref name="path"/>, or an empty one when the file does not exist; throws <see cref="InvalidDataException"/> for a damaged file.</summary>
    public static PrivacyLedger Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) return new PrivacyLedger(path, []);
        try
        {
            var file = JsonSerializer.Deserialize(File.ReadAllBytes(path), PrivacyLedgerJson.Default.LedgerFile)
                ?? throw new InvalidDataException($"privacy ledger {path} is empty.");
            foreach (var e in file.Entries)
                if (!(e.NoiseMultiplier > 0 && e.SamplingRate is > 0 and <= 1 && e.Count >= 0))
                    throw new InvalidDataException($"privacy ledger {path} has an invalid entry (σ {e.NoiseMultiplier}, q {e.SamplingRate}, count {e.Count}).");
            return new PrivacyLedger(path, [.. file.Entries]);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"privacy ledger {path} is not valid JSON: {ex.Message}", ex);
        }
    }

    /// <summary>ε spent at <paramref name="delta"/> (0 with no contributions).</summary>
    public double Epsilon(double delta) => EpsilonWith(null, delta);

    /// <summary>ε at <paramref name="delta"/> if one more contribution under (σ, q) were charged.</summary>
    public double EpsilonAfter(double noiseMultiplier, double samplingRate, double delta) =>
        EpsilonWith(new LedgerEntry(noiseMultiplier, samplingRate, 1), delta);

    /// <summary>Records one contribution under (σ, q) and persists the ledger before returning.</summary>
    public void Charge(double noiseMultiplier, double samplingRate)
    {
        if (!(noiseMultiplier > 0)) throw new ArgumentOutOfRangeException(nameof(noiseMultiplier), noiseMultiplier, "A charged contribution needs noise (σ > 0).");
        if (samplingRate is not (> 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(samplingRate), samplingRate, "The sampling rate must be in (0, 1].");
        var i = _entries.FindIndex(e => e.NoiseMultiplier == noiseMultiplier && e.SamplingRate == samplingRate);
        if (i < 0) _entries.Add(new LedgerEntry(noiseMultiplier, samplingRate, 1));
        else _entries[i] = _entries[i] with { Count = _entries[i].Count + 1 };
        AtomicFile.Write(_path, JsonSerializer.SerializeToUtf8Bytes(new LedgerFile(_entries), PrivacyLedgerJson.Default.LedgerFile));
    }

    private double EpsilonWith(LedgerEntry? extra, double delta)
    {
        var orders = RdpAccountant.DefaultOrders;
        var rdp = new double[orders.Count];
        foreach (var e in extra is null ? _entries : _entries.Append(extra))
        {
            var one = RdpAccountant.Rdp(e.SamplingRate, e.NoiseMultiplier, e.Count, orders);
            for (var k = 0; k < rdp.Length; k++) rdp[k] += one[k];
        }
        return rdp.All(r => r == 0) ? 0 : RdpAccountant.Epsilon(orders, rdp, delta).Epsilon;
    }
}

/// <summary>The ledger file: format 1.</summary>
internal sealed record LedgerFile(IReadOnlyList<LedgerEntry> Entries)
{
    public int Format { get; init; } = 1;
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(LedgerFile))]
internal sealed partial class PrivacyLedgerJson : JsonSerializerContext;
