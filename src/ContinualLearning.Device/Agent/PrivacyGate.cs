using System.Security.Cryptography;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Privacy;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Device.Agent;

/// <summary>What the privacy gate decided for one delta.</summary>
internal enum PrivacyDecision
{
    /// <summary>No ledger is kept: the delta goes out.</summary>
    Off,

    /// <summary>Charged to the ledger and sent.</summary>
    Charged,

    /// <summary>Charged as a step of the subsampled mechanism but not sent (participation coin, q &lt; 1); its learning stays in the next delta.</summary>
    NotSampled,

    /// <summary>Not sent: one more contribution would exceed the budget. The device keeps learning locally.</summary>
    BudgetSpent,
}

/// <summary>
/// The device's ε ledger in front of the outbox (docs/federated.md, "Differential privacy"). Each delta the device is
/// about to send is one step of the aggregator's Gaussian mechanism for this device (its deltas are summed and clipped
/// to one update per round, so counting each delta over-counts, never under-counts). With a participation rate q &lt; 1
/// every delta is charged as a step of the Poisson-subsampled mechanism and then sent with probability q. The charge is
/// written atomically before the delta is queued, so a crash can waste budget but never spend it unrecorded.
/// </summary>
internal sealed partial class PrivacyGate
{
    private readonly DevicePrivacyOptions _options;
    private readonly PrivacyLedger? _ledger;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private bool _reportedSpent;

    public PrivacyGate(DevicePrivacyOptions options, string ledgerPath, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = logger;
        // A damaged ledger stops the device from contributing (Load throws): starting it afresh would forget spent budget.
        _ledger = options.Enabled ? PrivacyLedger.Load(ledgerPath) : null;
    }

    /// <summary>ε spent at the configured δ; null when no ledger is kept.</summary>
    public double? EpsilonSpent
    {
        get
        {
            lock (_lock) return _ledger?.Epsilon(_options.Delta);
        }
    }

    /// <summary>True once the budget stopped a delta.</summary>
    public bool BudgetSpent
    {
        get
        {
            lock (_lock) return _reportedSpent;
        }
    }

    /// <summary>Decides whether the next delta may go out, charging the ledger when it does.</summary>
    public PrivacyDecision Admit()
    {
        if (_ledger is null) return PrivacyDecision.Off;
        lock (_lock)
        {
            var (sigma, q, budget) = (_options.NoiseMultiplier, _options.ParticipationRate, _options.EpsilonBudget!.Value);
            var after = _ledger.EpsilonAfter(sigma, q, _options.Delta);
            if (after > budget)
            {
                if (!_reportedSpent) LogBudgetSpent(_logger, _ledger.Epsilon(_options.Delta), budget, _options.Delta, after, _ledger.Contributions);
                _reportedSpent = true;
                return PrivacyDecision.BudgetSpent;
            }
            // Every opportunity is a step of the subsampled mechanism, sent or not: the accountant's amplification by q
            // assumes the steps where the coin said no are counted too.
            _ledger.Charge(sigma, q);
            // Poisson subsampling: the coin must be unpredictable to whoever sees the releases, hence the CSPRNG.
            return q < 1 && RandomNumberGenerator.GetInt32(1 << 30) >= q * (1 << 30) ? PrivacyDecision.NotSampled : PrivacyDecision.Charged;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Privacy budget reached: ε {Spent:0.###} spent of {Budget} at δ {Delta} over {Contributions} contributions; one more would make it {After:0.###}. The device keeps learning locally and sends no more deltas.")]
    private static partial void LogBudgetSpent(ILogger logger, double spent, double budget, double delta, double after, long contributions);
}
