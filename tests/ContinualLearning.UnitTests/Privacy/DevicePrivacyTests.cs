using ContinualLearning.Device.Agent;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Fleet.Configuration;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Privacy;
using ContinualLearning.UnitTests.Device;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContinualLearning.UnitTests.Privacy;

/// <summary>The device's privacy gate: charges before a delta leaves, stops at the budget across restarts, samples with q; its configuration and telemetry field.</summary>
public sealed class DevicePrivacyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-device-dp-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Ledger => Path.Combine(_dir, "privacy-ledger.json");

    [Fact]
    public void The_gate_stops_at_the_budget_and_stays_stopped_after_a_restart()
    {
        var budget = RdpAccountant.Epsilon(1.0, 1.5, 3, 1e-5) + 1e-9;
        var options = new DevicePrivacyOptions { EpsilonBudget = budget, NoiseMultiplier = 1.5 };
        var gate = new PrivacyGate(options, Ledger, NullLogger.Instance);

        var decisions = Enumerable.Range(0, 5).Select(_ => gate.Admit()).ToArray();

        Assert.Equal([PrivacyDecision.Charged, PrivacyDecision.Charged, PrivacyDecision.Charged, PrivacyDecision.BudgetSpent, PrivacyDecision.BudgetSpent], decisions);
        Assert.True(gate.BudgetSpent);
        Assert.Equal(RdpAccountant.Epsilon(1.0, 1.5, 3, 1e-5), gate.EpsilonSpent!.Value, 12);
        Assert.True(gate.EpsilonSpent <= budget);

        var restarted = new PrivacyGate(options, Ledger, NullLogger.Instance);
        Assert.Equal(gate.EpsilonSpent, restarted.EpsilonSpent);
        Assert.Equal(PrivacyDecision.BudgetSpent, restarted.Admit());
        Assert.Equal(3, PrivacyLedger.Load(Ledger).Contributions);
    }

    [Fact]
    public void Without_a_budget_no_ledger_is_kept_and_with_q_below_one_every_delta_is_charged_and_about_q_of_them_go_out()
    {
        var off = new PrivacyGate(new DevicePrivacyOptions(), Ledger, NullLogger.Instance);
        Assert.Equal(PrivacyDecision.Off, off.Admit());
        Assert.Null(off.EpsilonSpent);
        Assert.False(File.Exists(Ledger));

        var sampled = new PrivacyGate(new DevicePrivacyOptions { EpsilonBudget = 1e6, NoiseMultiplier = 5, ParticipationRate = 0.5 }, Ledger, NullLogger.Instance);
        var sent = Enumerable.Range(0, 400).Count(_ => sampled.Admit() == PrivacyDecision.Charged);
        // Binomial(400, 0.5): standard deviation 10, the bound is 6 of them.
        Assert.InRange(sent, 140, 260);
        // Every opportunity is charged, sent or not: that is what the amplification by q assumes.
        Assert.Equal(400, PrivacyLedger.Load(Ledger).Contributions);
        Assert.Equal(0.5, Assert.Single(PrivacyLedger.Load(Ledger).Entries).SamplingRate);
    }

    [Fact]
    public void A_budget_needs_the_aggregators_noise_multiplier()
    {
        var key = Path.Combine(_dir, "fleet.pub");
        File.WriteAllText(key, "not read by the validator");
        var valid = new DeviceOptions
        {
            DeviceId = "pi-07", Fleet = "plant1", ModelName = "sea", FleetPublicKeyPath = key, DataDirectory = _dir,
            Privacy = new DevicePrivacyOptions { EpsilonBudget = 8, NoiseMultiplier = 1.0 },
        };
        valid.Validate();

        var noNoise = Assert.Single(Assert.Throws<ConfigurationException>(() => (valid with { Privacy = valid.Privacy with { NoiseMultiplier = 0 } }).Validate()).Errors);
        var badRate = Assert.Single(Assert.Throws<ConfigurationException>(() => (valid with { Privacy = valid.Privacy with { ParticipationRate = 0 } }).Validate()).Errors);
        var badBudget = Assert.Single(Assert.Throws<ConfigurationException>(() => (valid with { Privacy = valid.Privacy with { EpsilonBudget = -1 } }).Validate()).Errors);

        Assert.Equal(("privacy:noiseMultiplier", "privacy:participationRate", "privacy:epsilonBudget"), (noNoise.Key, badRate.Key, badBudget.Key));
        Assert.Contains("aggregation:privacy:noiseMultiplier", noNoise.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void Telemetry_carries_the_spent_epsilon_and_older_messages_still_read()
    {
        var sent = new Telemetry { DeviceId = "pi-07", PrivacyEpsilon = 3.25, PrivacyBudgetSpent = true };
        var read = FleetJson.ReadTelemetry(FleetJson.Serialize(sent));
        Assert.Equal((3.25, true), (read.PrivacyEpsilon, read.PrivacyBudgetSpent));

        var older = FleetJson.ReadTelemetry("""{"v":1,"deviceId":"d","cpuPercent":1.5}"""u8);
        Assert.Null(older.PrivacyEpsilon);
        Assert.Null(older.PrivacyBudgetSpent);
        Assert.DoesNotContain("privacy", System.Text.Encoding.UTF8.GetString(FleetJson.Serialize(new Telemetry { DeviceId = "d" })), StringComparison.OrdinalIgnoreCase);
    }
}

/// <summary>The publisher asks the gate before every delta: past the budget nothing more reaches the outbox.</summary>
public sealed class DeltaPublisherPrivacyTests : IDisposable
{
    private readonly DeviceTestKit _kit = new(brokerPort: 1);

    public void Dispose() => _kit.Dispose();

    [Fact]
    public async Task Deltas_past_the_budget_are_not_queued_and_the_spent_epsilon_survives_a_restart()
    {
        var budget = RdpAccountant.Epsilon(1.0, 2.0, 2, 1e-5) + 1e-9;
        _kit.Options = _kit.Options with
        {
            Delta = new DeltaOptions { TopKFraction = 1, Encoding = ContinualLearning.Deltas.DeltaEncoding.Float32 },
            Privacy = new DevicePrivacyOptions { EpsilonBudget = budget, NoiseMultiplier = 2.0 },
        };
        double? spent;
        await using (var parts = new AgentParts(_kit))
        {
            for (var i = 1; i <= 4; i++)
                parts.Deltas.Offer(DeltaPublisherTests.Promotion("1.0.0",
                    DeltaPublisherTests.Weights(0, 0), DeltaPublisherTests.Weights(i, 0)));
            parts.Deltas.CompleteIntake();
            await parts.Deltas.BuildDeltasAsync();

            Assert.Equal(2, parts.Deltas.Outbox.Count);
            Assert.True(parts.Deltas.Privacy.BudgetSpent);
            spent = parts.Deltas.Privacy.EpsilonSpent;
        }

        await using var restarted = new AgentParts(_kit);
        Assert.Equal(spent, restarted.Deltas.Privacy.EpsilonSpent);
        Assert.True(File.Exists(_kit.Options.PrivacyLedgerPath));
    }
}
