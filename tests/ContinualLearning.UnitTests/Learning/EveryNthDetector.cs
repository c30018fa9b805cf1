using ContinualLearning.Drift;

namespace ContinualLearning.UnitTests.Learning;

/// <summary>A drift detector that fires at every n-th update, so a test knows exactly when alarms are raised.</summary>
internal sealed class EveryNthDetector(int n) : IDriftDetector
{
    private int _updates;

    public bool DriftDetected { get; private set; }

    public bool WarningDetected => false;

    public string Name => $"every {n}";

    public void Update(double x) => DriftDetected = ++_updates % n == 0;

    public void Reset() => _updates = 0;
}
