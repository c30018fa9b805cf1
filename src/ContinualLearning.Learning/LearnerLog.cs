using ContinualLearning.Triggers;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Learning;

/// <summary>The learner's log messages (source-generated: no formatting or boxing when the level is off).</summary>
internal static partial class LearnerLog
{
    [LoggerMessage(1, LogLevel.Information, "Installed global release {Version} from {Path} as base and champion")]
    public static partial void InstalledFirstRelease(ILogger logger, string version, string path);

    [LoggerMessage(2, LogLevel.Information, "Learner open: champion {Version} (base {Base}), engine {Engine}")]
    public static partial void Opened(ILogger logger, string version, string @base, string engine);

    [LoggerMessage(3, LogLevel.Information, "Trigger {Reason}: {Message}")]
    public static partial void Triggered(ILogger logger, TriggerReason reason, string message);

    [LoggerMessage(4, LogLevel.Debug, "Run skipped ({Reason}): {Count} fresh samples, {Min} needed")]
    public static partial void RunSkipped(ILogger logger, string reason, int count, int min);

    [LoggerMessage(5, LogLevel.Information, "Run {Run} ({Reason}) aborted; {Count} samples released")]
    public static partial void RunAborted(ILogger logger, long run, string reason, int count);

    [LoggerMessage(6, LogLevel.Information, "Run {Run} ({Reason}): champion {Champion:0.####} vs challenger {Challenger:0.####} on {Holdout} held out → {Outcome}")]
    public static partial void RunDecided(ILogger logger, long run, string reason, double champion, double challenger, int holdout, string outcome);

    [LoggerMessage(7, LogLevel.Warning, "Rolled back to {Version}")]
    public static partial void RolledBack(ILogger logger, string version);

    [LoggerMessage(8, LogLevel.Warning, "Sample store and replay buffer wiped")]
    public static partial void Wiped(ILogger logger);

    [LoggerMessage(9, LogLevel.Information, "Rebased on global release {Version}{Wiped}")]
    public static partial void Rebased(ILogger logger, string version, string wiped);

    [LoggerMessage(10, LogLevel.Warning, "Drift detected by {Source}; windowed accuracy {Accuracy:0.####}")]
    public static partial void DriftDetected(ILogger logger, string source, double accuracy);

    [LoggerMessage(11, LogLevel.Information, "Class '{Name}' added as output {Index}: champion {Version} has {Count} classes")]
    public static partial void ClassAdded(ILogger logger, string name, int index, string version, int count);

    [LoggerMessage(12, LogLevel.Warning, "Sample store recreated empty: {Reason}")]
    public static partial void StoreRecreated(ILogger logger, string reason);
}
