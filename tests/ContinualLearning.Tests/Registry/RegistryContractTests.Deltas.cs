using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Validation;

namespace ContinualLearning.Tests.Registry;

/// <summary>
/// The delta ledger: an id counts once forever, a refused delta leaves no trace, the buffer is read oldest first with
/// ties broken by id, and consuming records each id's final state.
/// </summary>
public abstract partial class RegistryContractTests
{
    [Fact]
    public async Task Admit_accepts_a_new_delta_and_buffers_it_with_every_field()
    {
        var registry = await OpenAsync();
        var delta = new PendingDelta(Id(1), "pi-01", "1.2.0", 5_000_000_000, T0, [0, 1, 2, 255, 0]);

        Assert.Equal(DeltaAdmission.Accepted, registry.Deltas.Admit("m", delta, NoLimits));

        Assert.True(registry.Deltas.IsSeen(Id(1)));
        Assert.True(registry.Deltas.HasAccepted("m", "pi-01"));
        Assert.Equal(1, registry.Deltas.PendingCount("m"));
        var read = Assert.Single(registry.Deltas.ListPending("m"));
        Assert.Equal((delta.DeltaId, delta.DeviceId, delta.BaseVersion, delta.SampleCount), (read.DeltaId, read.DeviceId, read.BaseVersion, read.SampleCount));
        AssertSameTime(T0, read.Received);
        Assert.Equal(delta.Payload, read.Payload);
        Assert.Equal(1, registry.Deltas.States().GetValueOrDefault(DeltaState.Pending));
    }

    [Fact]
    public async Task An_id_seen_before_is_a_duplicate_even_when_the_buffer_is_full_under_another_model_or_after_aggregation()
    {
        var registry = await OpenAsync();
        var tight = new PendingLimits(1, 1);
        Assert.Equal(DeltaAdmission.Accepted, registry.Deltas.Admit("m", Delta(Id(1), "pi-01"), tight));

        Assert.Equal(DeltaAdmission.Duplicate, registry.Deltas.Admit("m", Delta(Id(1), "pi-01"), tight)); // full, but a redelivery is a duplicate first
        Assert.Equal(DeltaAdmission.Duplicate, registry.Deltas.Admit("other", Delta(Id(1), "pi-02"), NoLimits));
        registry.Deltas.Consume([Id(1)], DeltaState.Aggregated, "1.1.0");
        Assert.Equal(DeltaAdmission.Duplicate, registry.Deltas.Admit("m", Delta(Id(1), "pi-01"), tight));

        Assert.Equal(0, registry.Deltas.PendingCount("m"));
        Assert.Equal(0, registry.Deltas.PendingCount("other"));
        Assert.False(registry.Deltas.HasAccepted("other", "pi-02"));
    }

    [Fact]
    public async Task A_delta_over_the_pending_bound_is_refused_and_nothing_of_it_is_recorded()
    {
        var registry = await OpenAsync();
        var limits = new PendingLimits(MaxPending: 2, MaxPerDevice: 10);
        Assert.Equal(DeltaAdmission.Accepted, registry.Deltas.Admit("m", Delta(Id(1), "pi-01"), limits));
        Assert.Equal(DeltaAdmission.Accepted, registry.Deltas.Admit("m", Delta(Id(2), "pi-02"), limits));

        Assert.Equal(DeltaAdmission.PendingFull, registry.Deltas.Admit("m", Delta(Id(3), "pi-03"), limits));

        Assert.False(registry.Deltas.IsSeen(Id(3)));
        Assert.False(registry.Deltas.HasAccepted("m", "pi-03"));
        Assert.Equal([Id(1), Id(2)], registry.Deltas.ListPending("m").Select(d => d.DeltaId));
        Assert.Equal(new PendingSummary(2, 2, T0), registry.Deltas.Summary("m"));
        Assert.Equal(2, registry.Deltas.States().GetValueOrDefault(DeltaState.Pending));
        Assert.Equal(DeltaAdmission.Accepted, registry.Deltas.Admit("other", Delta(Id(4), "pi-03"), limits)); // the bound is per model

        registry.Deltas.Consume([Id(1)], DeltaState.Aggregated, "1.1.0");
        Assert.Equal(DeltaAdmission.Accepted, registry.Deltas.Admit("m", Delta(Id(3), "pi-03"), limits)); // refused, so it may come again
    }

    [Fact]
    public async Task A_delta_over_the_device_quota_is_refused_and_nothing_of_it_is_recorded()
    {
        var registry = await OpenAsync();
        var limits = new PendingLimits(MaxPending: 10, MaxPerDevice: 1);
        Assert.Equal(DeltaAdmission.Accepted, registry.Deltas.Admit("m", Delta(Id(1), "pi-01"), limits));

        Assert.Equal(DeltaAdmission.DeviceQuota, registry.Deltas.Admit("m", Delta(Id(2), "pi-01"), limits));

        Assert.False(registry.Deltas.IsSeen(Id(2)));
        Assert.Equal(1, registry.Deltas.PendingCount("m"));
        Assert.Equal(DeltaAdmission.Accepted, registry.Deltas.Admit("m", Delta(Id(3), "pi-02"), limits));
        Assert.Equal(DeltaAdmission.Accepted, registry.Deltas.Admit("other", Delta(Id(4), "pi-01"), limits)); // the quota is per model
        registry.Deltas.Consume([Id(1)], DeltaState.Dropped, null);
        Assert.Equal(DeltaAdmission.Accepted, registry.Deltas.Admit("m", Delta(Id(2), "pi-01"), limits));
        Assert.Equal([Id(2), Id(3)], registry.Deltas.ListPending("m").Select(d => d.DeltaId).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task AdmitBatch_decides_each_delta_in_input_order_by_the_rules_of_Admit()
    {
        var registry = await OpenAsync();
        Assert.Equal(DeltaAdmission.Accepted, registry.Deltas.Admit("m", Delta(Id(9), "pi-09"), NoLimits));
        var limits = new PendingLimits(MaxPending: 4, MaxPerDevice: 2);
        PendingDelta[] batch =
        [
            Delta(Id(1), "pi-01"), // accepted: 2 pending
            Delta(Id(2), "pi-01"), // accepted: 3 pending, pi-01 at its quota
            Delta(Id(3), "pi-01"), // over pi-01's quota
            Delta(Id(1), "pi-01"), // accepted earlier in this very batch
            Delta(Id(9), "pi-09"), // accepted before the batch
            Delta(Id(4), "pi-02"), // accepted: 4 pending, the bound
            Delta(Id(5), "pi-03"), // over the bound
            Delta(Id(5), "pi-03"), // refused above, so not a duplicate: over the bound again
            Delta(Id(4), "pi-02"), // a duplicate comes before the bound
        ];

        var results = registry.Deltas.AdmitBatch("m", batch, limits, out var pendingAfter);

        Assert.Equal(4, pendingAfter);
        Assert.Equal(
            [DeltaAdmission.Accepted, DeltaAdmission.Accepted, DeltaAdmission.DeviceQuota, DeltaAdmission.Duplicate, DeltaAdmission.Duplicate,
             DeltaAdmission.Accepted, DeltaAdmission.PendingFull, DeltaAdmission.PendingFull, DeltaAdmission.Duplicate],
            results);
        Assert.False(registry.Deltas.IsSeen(Id(3)));
        Assert.False(registry.Deltas.IsSeen(Id(5)));
        Assert.False(registry.Deltas.HasAccepted("m", "pi-03"));
        Assert.Equal([Id(1), Id(2), Id(4), Id(9)], registry.Deltas.ListPending("m").Select(d => d.DeltaId));
        Assert.Equal(4, registry.Deltas.States().GetValueOrDefault(DeltaState.Pending));
        Assert.Empty(registry.Deltas.AdmitBatch("m", [], limits));
    }

    [Fact]
    public async Task AdmitBatch_larger_than_one_statement_admits_each_delta_once_and_counts_per_device_across_statements()
    {
        var registry = await OpenAsync();
        // 1,300 deltas: more rows than one multi-row statement carries, so the inserts and look-ups are split.
        var batch = Enumerable.Range(0, 1_300).Select(i => Delta(Id(i), $"pi-{i % 7}")).ToList();
        batch.Add(Delta(Id(5), "pi-5")); // a repeat in another chunk
        var limits = new PendingLimits(MaxPending: 10_000, MaxPerDevice: 150);

        var results = registry.Deltas.AdmitBatch("m", batch, limits);

        Assert.Equal(7 * 150, results.Count(r => r == DeltaAdmission.Accepted));
        Assert.Equal(1_300 - 7 * 150, results.Count(r => r == DeltaAdmission.DeviceQuota));
        Assert.Equal(DeltaAdmission.Duplicate, results[^1]);
        Assert.Equal(7 * 150, registry.Deltas.PendingCount("m"));
        Assert.Equal(DeltaAdmission.Duplicate, registry.Deltas.Admit("m", Delta(Id(1_049), "pi-6"), limits)); // the 150th of pi-6
        Assert.False(registry.Deltas.IsSeen(Id(1_050)));
    }

    [Fact]
    public async Task ListPending_is_oldest_first_with_equal_times_ordered_by_delta_id_and_honours_the_limit()
    {
        var registry = await OpenAsync();
        var earlierElsewhere = T0.AddHours(-1).ToOffset(TimeSpan.FromHours(2)); // later wall-clock text, earlier instant
        var deltas = new[]
        {
            Delta(Id(3), "pi-01", T0.AddSeconds(1)),
            Delta(Id(12), "pi-02", T0),
            Delta(Id(2), "pi-03", T0),
            Delta(Id(10), "pi-04", T0),
            Delta(Id(0), "pi-05", T0.AddSeconds(2)),
            Delta(Id(5), "pi-06", earlierElsewhere),
            Delta(Id(4), "pi-07", T0.AddTicks(10)), // one microsecond after T0
        };
        Assert.All(registry.Deltas.AdmitBatch("m", deltas, NoLimits), a => Assert.Equal(DeltaAdmission.Accepted, a));
        registry.Deltas.Admit("other", Delta(Id(1), "pi-01", T0.AddDays(-1)), NoLimits);

        var pending = registry.Deltas.ListPending("m");

        Assert.Equal([Id(5), Id(2), Id(10), Id(12), Id(4), Id(3), Id(0)], pending.Select(d => d.DeltaId));
        AssertSameTime(earlierElsewhere, pending[0].Received);
        AssertSameTime(T0.AddTicks(10), pending[4].Received);
        Assert.Equal([Id(5), Id(2), Id(10)], registry.Deltas.ListPending("m", limit: 3).Select(d => d.DeltaId));
        Assert.Empty(registry.Deltas.ListPending("none"));
    }

    [Fact]
    public async Task Summary_counts_buffered_deltas_and_devices_and_finds_the_oldest()
    {
        var registry = await OpenAsync();
        Assert.Equal(new PendingSummary(0, 0, null), registry.Deltas.Summary("m"));
        Assert.Null(registry.Deltas.OldestPending("m"));

        registry.Deltas.Admit("m", Delta(Id(1), "pi-01", T0.AddMinutes(5)), NoLimits);
        registry.Deltas.Admit("m", Delta(Id(2), "pi-02", T0.AddTicks(-10).ToOffset(TimeSpan.FromHours(-5))), NoLimits);
        registry.Deltas.Admit("m", Delta(Id(3), "pi-01", T0.AddMinutes(1)), NoLimits);
        registry.Deltas.Admit("other", Delta(Id(4), "pi-09", T0.AddDays(-9)), NoLimits);

        var summary = registry.Deltas.Summary("m");
        Assert.Equal((3, 2), (summary.Count, summary.Devices));
        AssertSameTime(T0.AddTicks(-10), summary.Oldest);
        AssertSameTime(T0.AddTicks(-10), registry.Deltas.OldestPending("m"));

        registry.Deltas.Consume([Id(2)], DeltaState.Aggregated, "1.1.0");
        AssertSameTime(T0.AddMinutes(1), registry.Deltas.OldestPending("m"));
        Assert.Equal(new PendingSummary(2, 1, T0.AddMinutes(1)), registry.Deltas.Summary("m"));
    }

    [Fact]
    public async Task Consume_takes_deltas_out_of_the_buffer_and_records_their_final_state()
    {
        var registry = await OpenAsync();
        Assert.DoesNotContain(registry.Deltas.States(), s => s.Value != 0);
        registry.Deltas.AdmitBatch("m", [Delta(Id(1), "pi-01"), Delta(Id(2), "pi-02"), Delta(Id(3), "pi-03"), Delta(Id(4), "pi-04")], NoLimits);

        registry.Deltas.Consume([Id(1), Id(2)], DeltaState.Aggregated, "1.1.0");
        registry.Deltas.Consume([Id(3)], DeltaState.Dropped, null);

        Assert.Equal([Id(4)], registry.Deltas.ListPending("m").Select(d => d.DeltaId));
        var states = registry.Deltas.States();
        Assert.Equal((1, 2, 1), (states.GetValueOrDefault(DeltaState.Pending), states.GetValueOrDefault(DeltaState.Aggregated), states.GetValueOrDefault(DeltaState.Dropped)));
        Assert.True(registry.Deltas.IsSeen(Id(3)));
        Assert.True(registry.Deltas.HasAccepted("m", "pi-01"));
        Assert.Equal(DeltaAdmission.Duplicate, registry.Deltas.Admit("m", Delta(Id(3), "pi-03"), NoLimits));
    }

    [Fact]
    public async Task Consume_of_an_id_no_longer_pending_throws_and_its_transaction_keeps_nothing()
    {
        var registry = await OpenAsync();
        registry.Deltas.AdmitBatch("m", [Delta(Id(1), "pi-01"), Delta(Id(2), "pi-02")], NoLimits);
        registry.Deltas.Consume([Id(1)], DeltaState.Aggregated, "1.1.0");

        var twice = Assert.Throws<InvalidOperationException>(() => registry.InTransaction(() =>
        {
            registry.Deltas.Consume([Id(2), Id(1)], DeltaState.Aggregated, "1.2.0");
            registry.AddVersion(Version("m", "1.2.0") with { DeltaIds = [Id(2), Id(1)] });
        }));

        Assert.Contains(Id(1), twice.Message, StringComparison.Ordinal);
        Assert.Equal([Id(2)], registry.Deltas.ListPending("m").Select(d => d.DeltaId));
        Assert.Null(registry.GetVersion("m", "1.2.0"));
        Assert.Throws<InvalidOperationException>(() => registry.Deltas.Consume([Id(7)], DeltaState.Dropped, null)); // never admitted
        var states = registry.Deltas.States();
        Assert.Equal((1, 1, 0), (states.GetValueOrDefault(DeltaState.Pending), states.GetValueOrDefault(DeltaState.Aggregated), states.GetValueOrDefault(DeltaState.Dropped)));
    }

    [Fact]
    public async Task HasAccepted_is_per_model_and_device()
    {
        var registry = await OpenAsync();
        Assert.False(registry.Deltas.HasAccepted("m", "pi-01"));

        registry.Deltas.Admit("m", Delta(Id(1), "pi-01"), NoLimits);

        Assert.True(registry.Deltas.HasAccepted("m", "pi-01"));
        Assert.False(registry.Deltas.HasAccepted("m", "pi-02"));
        Assert.False(registry.Deltas.HasAccepted("other", "pi-01"));
        Assert.False(registry.Deltas.IsSeen(Id(2)));
    }

    [Fact]
    public async Task Times_round_trip_as_the_same_instant_in_utc_to_the_microsecond()
    {
        var registry = await OpenAsync();
        var precise = new DateTimeOffset(2031, 12, 31, 23, 59, 59, TimeSpan.Zero).AddTicks(9_999_990); // .999999 s
        var offset = T0.ToOffset(TimeSpan.FromHours(-7.5));
        Clock.Set(precise);

        registry.Deltas.Admit("m", Delta(Id(1), "pi-01", precise), NoLimits);
        registry.Deltas.Admit("m", Delta(Id(2), "pi-02", offset), NoLimits);
        registry.AddVersion(Version("m", "1.0.0") with { Created = offset });
        registry.Decisions.Record("m", "1.0.0", DecisionKind.Released, "r", "{}");
        registry.Rejections.Record(new RejectionRecord(precise, "pi-01", Id(3), RejectionReason.TooStale, "stale"));

        var pending = registry.Deltas.ListPending("m");
        AssertSameTime(offset, pending[0].Received);
        AssertSameTime(precise, pending[1].Received);
        AssertSameTime(offset, registry.Deltas.OldestPending("m"));
        AssertSameTime(offset, registry.GetVersion("m", "1.0.0")!.Created);
        AssertSameTime(precise, Assert.Single(registry.Decisions.List()).At);
        Assert.Equal(0, registry.Rejections.Prune(10, precise)); // kept: not older than itself
        Assert.Equal(1, registry.Rejections.Prune(10, precise.AddTicks(10)));
    }
}
