using ContinualLearning.Bundle;

namespace ContinualLearning.Learning;

/// <summary>
/// Versions of local promotions: <c>&lt;base&gt;-local.&lt;n&gt;</c> (SemVer pre-release), e.g. base "1.3.0" gives
/// "1.3.0-local.1", "1.3.0-local.2", …; a base that is itself a pre-release keeps its identifiers
/// ("1.3.0-rc.1" → "1.3.0-rc.1.local.1"). Build metadata is dropped. By SemVer precedence a local version sorts
/// just below its base, so any global release ≥ the base is "newer" than every local fine-tune of it.
/// </summary>
public static class LocalVersion
{
    /// <summary>The <paramref name="n"/>-th local version on top of <paramref name="baseVersion"/>.</summary>
    public static string Next(string baseVersion, long n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        var v = SemanticVersion.Parse(baseVersion);
        var core = $"{v.Major}.{v.Minor}.{v.Patch}";
        return v.PreRelease is null ? $"{core}-local.{n}" : $"{core}-{v.PreRelease}.local.{n}";
    }
}
