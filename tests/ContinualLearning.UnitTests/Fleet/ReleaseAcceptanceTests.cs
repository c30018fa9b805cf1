using System.Security.Cryptography;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;

namespace ContinualLearning.UnitTests.Fleet;

public sealed class ReleaseAcceptanceTests : IDisposable
{
    private const string Topic = "cl/f/model/elec2/release";
    private readonly ECDsa _key = ReleaseKeys.Generate();
    private readonly ECDsa _otherKey = ReleaseKeys.Generate();

    public void Dispose()
    {
        _key.Dispose();
        _otherKey.Dispose();
    }

    private ReleaseAcceptance Acceptance => new("elec2", _key);

    private Release Signed(string version = "1.7.0", string cohort = "all", long? sequence = 10, string model = "elec2", ECDsa? key = null)
    {
        var container = new byte[3000];
        new Random(2).NextBytes(container);
        return ReleaseSigner.Sign(BundlePackager.CreateRelease(container, model, version, cohort, 1000) with { Sequence = sequence }, key ?? _key);
    }

    private ReleaseDecision Judge(Release release, string cohort = "all", long accepted = 0) =>
        Acceptance.Judge(Topic, FleetJson.Serialize(release), cohort, accepted);

    [Fact]
    public void A_valid_release_above_the_last_sequence_is_fetched()
    {
        var decision = Judge(Signed(sequence: 10), accepted: 9);
        Assert.Equal(ReleaseVerdict.Fetch, decision.Verdict);
        Assert.Equal("1.7.0", decision.Release!.Version);
        Assert.Equal(10, decision.Sequence);
    }

    [Fact]
    public void An_older_version_with_a_higher_sequence_is_a_rollback_and_fetched()
    {
        Assert.Equal(ReleaseVerdict.Fetch, Judge(Signed(version: "1.2.0", sequence: 20), accepted: 10).Verdict);
    }

    [Fact]
    public void A_cleared_retained_release_and_another_models_release_are_ignored()
    {
        Assert.Equal(ReleaseVerdict.Ignore, Acceptance.Judge(Topic, [], "all", 0).Verdict);
        Assert.Equal(ReleaseVerdict.Ignore, Judge(Signed(model: "other")).Verdict);
    }

    [Fact]
    public void An_unreadable_release_is_refused_with_the_topic()
    {
        var decision = Acceptance.Judge(Topic, "not json"u8.ToArray(), "all", 0);
        Assert.Equal(ReleaseVerdict.Refuse, decision.Verdict);
        Assert.Contains("unreadable", decision.Reason, StringComparison.Ordinal);
        Assert.Contains(Topic, decision.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("all", "stable", ReleaseVerdict.Fetch)]
    [InlineData("ALL", "stable", ReleaseVerdict.Fetch)]
    [InlineData("canary", "canary", ReleaseVerdict.Fetch)]
    [InlineData("canary", "stable", ReleaseVerdict.OtherCohort)]
    [InlineData("canary", "Canary", ReleaseVerdict.OtherCohort)]
    public void Cohorts(string releaseCohort, string deviceCohort, ReleaseVerdict expected) =>
        Assert.Equal(expected, Judge(Signed(cohort: releaseCohort), deviceCohort).Verdict);

    [Fact]
    public void A_release_signed_with_another_key_is_refused_before_anything_is_fetched()
    {
        var decision = Judge(Signed(key: _otherKey));
        Assert.Equal(ReleaseVerdict.Refuse, decision.Verdict);
        Assert.Contains("trusts key", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_release_changed_after_signing_is_refused()
    {
        var tampered = Signed() with { BundleSha256 = new string('0', 64) };
        Assert.Equal(ReleaseVerdict.Refuse, Judge(tampered).Verdict);
    }

    [Fact]
    public void A_release_without_a_sequence_is_refused()
    {
        var decision = Judge(Signed(sequence: null));
        Assert.Equal(ReleaseVerdict.Refuse, decision.Verdict);
        Assert.Contains("no release sequence", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void The_last_accepted_sequence_again_is_a_redelivery_and_a_lower_one_a_replay()
    {
        Assert.Equal(ReleaseVerdict.AlreadyAccepted, Judge(Signed(sequence: 10), accepted: 10).Verdict);
        var replay = Judge(Signed(sequence: 9), accepted: 10);
        Assert.Equal(ReleaseVerdict.Refuse, replay.Verdict);
        Assert.Contains("already accepted sequence 10", replay.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void While_fetching_a_higher_sequence_refuses_the_same_ignores_a_lower_fetches()
    {
        var release = Signed(sequence: 10);
        var below = ReleaseAcceptance.WhileFetching(release, fetchingSequence: 11, runningVersion: null);
        Assert.Equal(ReleaseVerdict.Refuse, below.Verdict);
        Assert.Contains("below the release being fetched (11)", below.Reason, StringComparison.Ordinal);
        Assert.Equal(ReleaseVerdict.Ignore, ReleaseAcceptance.WhileFetching(release, 10, null).Verdict);
        Assert.Equal(ReleaseVerdict.Fetch, ReleaseAcceptance.WhileFetching(release, 9, null).Verdict);
        Assert.Equal(ReleaseVerdict.Fetch, ReleaseAcceptance.WhileFetching(release, null, "1.6.0").Verdict);
    }

    [Fact]
    public void The_version_already_running_is_accepted_without_a_download()
    {
        Assert.Equal(ReleaseVerdict.AlreadyRunning, ReleaseAcceptance.WhileFetching(Signed(version: "1.7.0"), null, "1.7.0").Verdict);
    }
}
