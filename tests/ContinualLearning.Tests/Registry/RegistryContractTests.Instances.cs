using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Validation;

namespace ContinualLearning.Tests.Registry;

/// <summary>
/// Transactions (all or nothing, the original error, nesting joins) and several registry objects on one database, as
/// several aggregator hosts: each delta id counts once, the pending bound holds in total, one aggregation at a time per model.
/// </summary>
public abstract partial class RegistryContractTests
{
    [Fact]
    public async Task InTransaction_undoes_every_table_when_the_body_throws_and_rethrows_that_exception()
    {
        var registry = await OpenAsync();
        registry.AddVersion(Version("m", "1.0.0", VersionStatus.Candidate));
        var original = new InvalidOperationException("the round failed half way");

        var thrown = Assert.Throws<InvalidOperationException>(() => registry.InTransaction(() =>
        {
            registry.AddVersion(Version("m", "1.1.0", parent: "1.0.0"));
            Assert.True(registry.TryTransition("m", "1.0.0", VersionStatus.Candidate, VersionStatus.Released));
            Assert.Equal(DeltaAdmission.Accepted, registry.Deltas.Admit("m", Delta(Id(1), "pi-01"), NoLimits));
            registry.Deltas.AdmitBatch("m", [Delta(Id(2), "pi-02")], NoLimits);
            registry.Deltas.Consume([Id(2)], DeltaState.Aggregated, "1.1.0");
            registry.Decisions.Record("m", "1.1.0", DecisionKind.Released, "all", "{}");
            registry.Rejections.Record(new RejectionRecord(T0, "pi-03", Id(3), RejectionReason.Malformed, "bad"));
            registry.Releases.Allocate("m", "1.1.0", "all");
            Assert.NotNull(registry.GetVersion("m", "1.1.0")); // the transaction sees its own writes
            throw original;
        }));

        Assert.Same(original, thrown);
        Assert.Null(registry.GetVersion("m", "1.1.0"));
        Assert.Equal(VersionStatus.Candidate, registry.GetVersion("m", "1.0.0")!.Status);
        Assert.False(registry.Deltas.IsSeen(Id(1)));
        Assert.False(registry.Deltas.IsSeen(Id(2)));
        Assert.Equal(0, registry.Deltas.PendingCount("m"));
        Assert.Empty(registry.Decisions.List());
        Assert.Equal(0, registry.Rejections.Count());
        Assert.Equal(0, registry.Releases.Highest("m"));

        // Nothing was left open: the next transaction commits.
        Assert.Equal(7, registry.InTransaction(() =>
        {
            registry.AddVersion(Version("m", "1.1.0"));
            return 7;
        }));
        Assert.NotNull((await OpenSecondAsync()).GetVersion("m", "1.1.0"));
    }

    [Fact]
    public async Task A_nested_InTransaction_joins_the_outer_one_and_commits_only_with_it()
    {
        var registry = await OpenAsync();
        var other = await OpenSecondAsync();
        ModelVersionRecord? seenByOtherInside = Version("x", "0.0.0");

        var failure = Assert.Throws<TimeoutException>(() => registry.InTransaction(() =>
        {
            var inner = registry.InTransaction(() =>
            {
                registry.AddVersion(Version("m", "1.0.0"));
                return 42;
            });
            Assert.Equal(42, inner);
            Assert.NotNull(registry.GetVersion("m", "1.0.0"));
            seenByOtherInside = RunTogether(() => other.GetVersion("m", "1.0.0")).GetAwaiter().GetResult()[0];
            throw new TimeoutException("outer fails after the inner one returned");
        }));

        Assert.Equal("outer fails after the inner one returned", failure.Message);
        Assert.Null(seenByOtherInside); // the inner call did not commit on its own
        Assert.Null(registry.GetVersion("m", "1.0.0")); // and the outer failure undid it
        registry.InTransaction(() => registry.InTransaction(() => registry.AddVersion(Version("m", "1.0.0"))));
        Assert.NotNull(other.GetVersion("m", "1.0.0"));
    }

    [Fact]
    public async Task Two_registries_admitting_the_same_200_ids_at_once_accept_each_exactly_once()
    {
        var first = await OpenAsync();
        var second = await OpenSecondAsync();
        var deltas = Enumerable.Range(0, 200).Select(i => Delta(Guid.NewGuid().ToString("D"), $"pi-{i % 40:d2}", T0.AddMilliseconds(i))).ToArray();

        Func<DeltaAdmission[]> AdmitAll(ModelRegistry registry) => () =>
            deltas.Chunk(20).SelectMany(batch => registry.Deltas.AdmitBatch("m", batch, NoLimits)).ToArray();
        var results = await RunTogether(AdmitAll(first), AdmitAll(second));

        for (var i = 0; i < deltas.Length; i++)
        {
            var outcomes = new[] { results[0][i], results[1][i] };
            Assert.True(outcomes.Count(o => o == DeltaAdmission.Accepted) == 1 && outcomes.Count(o => o == DeltaAdmission.Duplicate) == 1,
                $"Delta {i}: first {results[0][i]}, second {results[1][i]}; expected one Accepted and one Duplicate.");
        }
        Assert.Equal(200, first.Deltas.PendingCount("m"));
        Assert.Equal(200, second.Deltas.States().GetValueOrDefault(DeltaState.Pending));
        Assert.Equal(deltas.Select(d => d.DeltaId), second.Deltas.ListPending("m").Select(d => d.DeltaId));
    }

    [Fact]
    public async Task Two_registries_admitting_the_same_ids_in_opposite_orders_accept_each_exactly_once()
    {
        var first = await OpenAsync();
        var second = await OpenSecondAsync();
        var deltas = Enumerable.Range(0, 200).Select(i => Delta(Guid.NewGuid().ToString("D"), $"pi-{i % 40:d2}", T0.AddMilliseconds(i))).ToArray();
        var reversed = deltas.Reverse().ToArray();

        // One host receives the ids as sent, the other as a redelivery in the opposite order, each as one batch: the two
        // transactions meet in the middle, each holding ids the other wants next.
        var results = await RunTogether(
            () => first.Deltas.AdmitBatch("m", deltas, NoLimits),
            () => second.Deltas.AdmitBatch("m", reversed, NoLimits).Reverse().ToArray());

        var accepted = Enumerable.Range(0, 200).Select(i => (results[0][i] == DeltaAdmission.Accepted ? 1 : 0) + (results[1][i] == DeltaAdmission.Accepted ? 1 : 0));
        Assert.All(accepted, count => Assert.Equal(1, count));
        Assert.Equal(200, first.Deltas.PendingCount("m"));
    }

    [Fact]
    public async Task Two_registries_running_rounds_while_deltas_arrive_put_every_delta_in_exactly_one_version()
    {
        var first = await OpenAsync();
        var second = await OpenSecondAsync();
        var third = await OpenSecondAsync();
        first.AddVersion(Version("m", "1.0.0"));
        var ids = Enumerable.Range(0, 150).Select(i => Guid.NewGuid().ToString("D")).ToArray();
        var arriving = 1;

        Func<int> Rounds(ModelRegistry registry) => () =>
        {
            var rounds = 0;
            while (true)
            {
                var stillArriving = Volatile.Read(ref arriving) == 1;
                var took = registry.WithModelLock("m", () =>
                {
                    var batch = registry.Deltas.ListPending("m", limit: 8);
                    if (batch.Count == 0) return 0;
                    var next = registry.NextVersion("m");
                    var parent = registry.ListVersions("m")[^1].Version;
                    registry.Deltas.Consume(batch.Select(d => d.DeltaId), DeltaState.Aggregated, next);
                    registry.AddVersion(Version("m", next, parent: parent) with { DeltaIds = batch.Select(d => d.DeltaId).ToArray() });
                    return batch.Count;
                });
                if (took > 0) rounds++;
                else if (!stillArriving) return rounds;
                else Thread.Sleep(1);
            }
        };
        Func<int> Arrivals() => () =>
        {
            var count = 0;
            foreach (var batch in ids.Chunk(10))
            {
                count += third.Deltas.AdmitBatch("m", batch.Select((id, i) => Delta(id, $"pi-{i}")).ToArray(), NoLimits).Count(a => a == DeltaAdmission.Accepted);
                Thread.Sleep(2);
            }
            Volatile.Write(ref arriving, 0);
            return count;
        };
        var done = await RunTogether(Arrivals(), Rounds(first), Rounds(second));

        Assert.Equal(150, done[0]);
        var versions = first.ListVersions("m");
        var aggregated = versions.SelectMany(v => v.DeltaIds).ToList();
        Assert.Equal(ids.Order(StringComparer.Ordinal), aggregated.Order(StringComparer.Ordinal)); // each id in exactly one version
        Assert.Equal(versions.Count - 1, done[1] + done[2]);
        Assert.Equal(versions.Skip(1).Select(v => v.Parent), versions.SkipLast(1).Select(v => v.Version)); // one chain
        Assert.Equal(150, second.Deltas.States().GetValueOrDefault(DeltaState.Aggregated));
        Assert.Equal(0, second.Deltas.PendingCount("m"));
    }

    [Fact]
    public async Task Two_registries_admitting_different_deltas_at_once_keep_the_pending_bound_in_total()
    {
        var first = await OpenAsync();
        var second = await OpenSecondAsync();
        var limits = new PendingLimits(MaxPending: 100, MaxPerDevice: 100_000);

        Func<DeltaAdmission[]> AdmitAll(ModelRegistry registry, int offset) => () =>
            Enumerable.Range(offset, 100).Select(i => Delta(Id(i), $"pi-{i:d3}")).Chunk(10).SelectMany(batch => registry.Deltas.AdmitBatch("m", batch, limits)).ToArray();
        var results = await RunTogether(AdmitAll(first, 0), AdmitAll(second, 1000));

        var all = results.SelectMany(r => r).ToArray();
        Assert.Equal(100, all.Count(r => r == DeltaAdmission.Accepted));
        Assert.Equal(100, all.Count(r => r == DeltaAdmission.PendingFull));
        Assert.Equal(100, first.Deltas.PendingCount("m"));
        Assert.Equal(100, second.Deltas.States().GetValueOrDefault(DeltaState.Pending));
    }

    [Fact]
    public async Task A_write_committed_by_one_registry_is_seen_by_the_other()
    {
        var first = await OpenAsync();
        var second = await OpenSecondAsync();

        first.AddVersion(Version("m", "1.0.0"));
        first.Deltas.Admit("m", Delta(Id(1), "pi-01"), NoLimits);
        first.Decisions.Record("m", "1.0.0", DecisionKind.Published, "seed", "{}");
        var sequence = first.Releases.Allocate("m", "1.0.0", "all");

        Assert.Equal("1.0.0", second.Latest("m", VersionStatus.Released)?.Version);
        Assert.Throws<InvalidOperationException>(() => second.AddVersion(Version("m", "1.0.0")));
        Assert.Equal(DeltaAdmission.Duplicate, second.Deltas.Admit("m", Delta(Id(1), "pi-01"), NoLimits));
        Assert.Single(second.Decisions.List("m"));
        Assert.Equal(sequence + 1, second.Releases.Allocate("m", "1.0.0", "all"));
        Assert.Equal("1.1.0", second.NextVersion("m"));
    }

    [Fact]
    public async Task WithModelLock_from_two_registries_on_two_threads_never_overlaps_and_both_finish()
    {
        var first = await OpenAsync();
        var second = await OpenSecondAsync();
        first.AddVersion(Version("m", "1.0.0"));
        var inside = 0;
        var mostInside = 0;

        // What an aggregation round does: read the next number, then write it. Overlapping bodies would both read the
        // same number and the second AddVersion would throw.
        Func<int> Rounds(ModelRegistry registry, string device) => () =>
        {
            for (var i = 0; i < 12; i++)
            {
                registry.WithModelLock("m", () =>
                {
                    var now = Interlocked.Increment(ref inside);
                    InterlockedMax(ref mostInside, now);
                    var next = registry.NextVersion("m");
                    Thread.Sleep(3);
                    registry.AddVersion(Version("m", next, parent: registry.ListVersions("m")[^1].Version) with { DeviceIds = [device] });
                    Interlocked.Decrement(ref inside);
                });
            }
            return 12;
        };
        var done = await RunTogether(Rounds(first, "host-a"), Rounds(second, "host-b"));

        Assert.Equal([12, 12], done);
        Assert.Equal(1, mostInside);
        var versions = second.ListVersions("m");
        Assert.Equal(Enumerable.Range(0, 25).Select(i => $"1.{i}.0"), versions.Select(v => v.Version));
        Assert.Equal([12, 12], versions.Skip(1).GroupBy(v => v.DeviceIds[0]).Select(g => g.Count()));
        Assert.Equal(versions.Skip(1).Select(v => v.Parent), versions.SkipLast(1).Select(v => v.Version)); // one chain
    }

    private static void InterlockedMax(ref int target, int value)
    {
        for (var seen = Volatile.Read(ref target); value > seen; seen = Volatile.Read(ref target))
        {
            if (Interlocked.CompareExchange(ref target, value, seen) == seen) return;
        }
    }
}
