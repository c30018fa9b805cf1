using ContinualLearning.Privacy;

namespace ContinualLearning.UnitTests.Privacy;

/// <summary>The CSPRNG Gaussian (checked statistically, with bounds that fail a wrong scale) and the persisted ε ledger.</summary>
public sealed class GaussianNoiseAndLedgerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-privacy-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Secure_noise_is_standard_normal()
    {
        const int n = 200_000;
        var noise = GaussianNoise.Secure();
        var x = new double[n];
        for (var i = 0; i < n; i++) x[i] = noise.Next();
        var mean = x.Average();
        var std = Math.Sqrt(x.Sum(v => (v - mean) * (v - mean)) / (n - 1));
        var tail = x.Count(v => Math.Abs(v) > 1.959964) / (double)n;
        // Standard errors: mean 0.0022, std 0.0016, tail share 0.0005; the bounds are ≥ 4.5 of them and a scale off by 2 % fails.
        Assert.InRange(mean, -0.01, 0.01);
        Assert.InRange(std, 0.99, 1.01);
        Assert.InRange(tail, 0.047, 0.053);
    }

    [Fact]
    public void Added_noise_has_the_requested_scale_and_seeded_noise_repeats()
    {
        var values = new float[100_000];
        GaussianNoise.Secure().Add(values, 0.25);
        var std = Math.Sqrt(values.Sum(v => (double)v * v) / values.Length);
        Assert.InRange(std, 0.25 * 0.98, 0.25 * 1.02);

        var a = GaussianNoise.Seeded(7);
        var b = GaussianNoise.Seeded(7);
        Assert.Equal(Enumerable.Range(0, 10).Select(_ => a.Next()), Enumerable.Range(0, 10).Select(_ => b.Next()));
    }

    [Fact]
    public void The_ledger_survives_a_restart_and_matches_the_accountant()
    {
        var path = Path.Combine(_dir, "ledger.json");
        var ledger = PrivacyLedger.Load(path);
        Assert.Equal(0, ledger.Epsilon(1e-5));
        for (var i = 0; i < 5; i++) ledger.Charge(2.0, 0.5);
        ledger.Charge(1.0, 1.0);

        var reloaded = PrivacyLedger.Load(path);

        Assert.Equal(6, reloaded.Contributions);
        Assert.Equal(ledger.Epsilon(1e-5), reloaded.Epsilon(1e-5));
        var orders = RdpAccountant.DefaultOrders;
        var rdp = RdpAccountant.Rdp(0.5, 2.0, 5, orders).Zip(RdpAccountant.Rdp(1.0, 1.0, 1, orders), (x, y) => x + y).ToArray();
        Assert.Equal(RdpAccountant.Epsilon(orders, rdp, 1e-5).Epsilon, reloaded.Epsilon(1e-5), 12);
        Assert.True(reloaded.EpsilonAfter(1.0, 1.0, 1e-5) > reloaded.Epsilon(1e-5));
        Assert.Empty(Directory.GetFiles(_dir, "*" + ContinualLearning.IO.AtomicFile.TempSuffix));
    }

    [Fact]
    public void A_damaged_ledger_is_refused_rather_than_restarted()
    {
        var path = Path.Combine(_dir, "ledger.json");
        File.WriteAllText(path, "{\"entries\":[{\"noiseMultiplier\":1,\"samplingRate\":1,\"count\":");
        Assert.Throws<InvalidDataException>(() => PrivacyLedger.Load(path));
        File.WriteAllText(path, "{\"entries\":[{\"noiseMultiplier\":0,\"samplingRate\":1,\"count\":3}]}");
        Assert.Contains("invalid entry", Assert.Throws<InvalidDataException>(() => PrivacyLedger.Load(path)).Message, StringComparison.Ordinal);
    }
}
