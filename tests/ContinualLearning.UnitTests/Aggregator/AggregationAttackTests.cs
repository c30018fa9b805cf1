using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Aggregator.Validation;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// Issue 11, "aggregation that one device cannot own": each test replays an attack made on the aggregator from a plain
/// MQTT client (here fed to <see cref="AggregatorService.Receive"/>, the handler the inbox calls) and checks it does no harm.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class AggregationAttackTests(EmbeddedBrokerFixture fixture) : BrokerTestBase(fixture), IDisposable
{
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForUnitTests();

    public void Dispose() => _kit.Dispose();

    private async Task<AggregatorService> StartAsync(Func<AggregatorOptions, AggregatorOptions>? configure = null)
    {
        var service = new AggregatorService(_kit.Options(Fixture.Broker.Port, Fleet, configure: o =>
        {
            // The test decides when to aggregate; no canary stage, so a version made is a version released.
            var tested = o with { Tick = TimeSpan.FromHours(1), Rollout = o.Rollout with { Canary = false } };
            return configure is null ? tested : configure(tested);
        }));
        await service.StartAsync();
        return service;
    }

    /// <summary>Per-coordinate change of <paramref name="version"/> against 1.0.0.</summary>
    private static float[] Change(AggregatorService service, string version)
    {
        var registry = service.Registry;
        var parent = RegistryModels.Load(registry, registry.GetVersion(AggregatorTestKit.Model, "1.0.0")!).Bundle.HeadWeights;
        var child = RegistryModels.Load(registry, registry.GetVersion(AggregatorTestKit.Model, version)!).Bundle.HeadWeights;
        return parent.Zip(child).SelectMany(p => p.First.Data.Zip(p.Second.Data, (a, b) => b - a)).ToArray();
    }

    [Fact]
    public async Task Attack_median_forced_by_huge_sample_count_is_refused()
    {
        // Main made the release −0.5 on every coordinate: the weighted median sat wherever 2^62 samples put it.
        await using var service = await StartAsync(o => o with { Aggregation = o.Aggregation with { Strategy = StrategyKind.Median } });
        for (var i = 0; i < 9; i++) Assert.True(service.Receive($"honest-{i}", _kit.EncodeDelta($"honest-{i}", samples: 100, value: 0.01f)).Accepted);
        Assert.True(service.Receive("mallory", _kit.EncodeDelta("mallory", samples: 1L << 62, value: -0.5f)).Accepted);

        var version = await service.AggregateAsync(force: true);

        Assert.Equal(VersionStatus.Released, version!.Status);
        Assert.All(Change(service, version.Version), d => Assert.Equal(0.01f, d, 1e-5f));
    }

    [Fact]
    public async Task Attack_ten_deltas_from_one_device_do_not_make_a_version()
    {
        // Main made version 1.1.0 with "devices: 1" from these.
        await using var service = await StartAsync(o => o with { Aggregation = o.Aggregation with { BufferSize = 10 } });
        for (var i = 0; i < 10; i++) Assert.True(service.Receive("mallory", _kit.EncodeDelta("mallory", value: -0.5f)).Accepted);

        Assert.Null(await service.AggregateAsync());
        Assert.Null(await service.AggregateAsync(force: true));

        Assert.Single(service.Registry.ListVersions(AggregatorTestKit.Model));
        // Nothing is thrown away either: the deltas wait for other devices.
        Assert.Equal(10, service.Registry.Deltas.PendingCount(AggregatorTestKit.Model));
    }

    [Fact]
    public async Task Attack_many_deltas_from_one_device_are_one_vote()
    {
        // On main ten deltas were ten votes: 10 of 13 values per coordinate made the median −0.5.
        await using var service = await StartAsync(o => o with { Aggregation = o.Aggregation with { Strategy = StrategyKind.Median } });
        for (var i = 0; i < 3; i++) Assert.True(service.Receive($"honest-{i}", _kit.EncodeDelta($"honest-{i}", value: 0.01f)).Accepted);
        for (var i = 0; i < 10; i++) Assert.True(service.Receive("mallory", _kit.EncodeDelta("mallory", value: -0.5f)).Accepted);

        var version = await service.AggregateAsync(force: true);

        Assert.Equal(13, version!.DeltaIds.Count);
        Assert.Contains("\"devices\":4", version.MetricsJson);
        Assert.All(Change(service, version.Version), d => Assert.Equal(0.01f, d, 1e-5f));
    }

    [Fact]
    public async Task Attack_empty_deltas_are_refused()
    {
        // Main accepted a delta without tensors into pending_deltas.
        await using var service = await StartAsync();
        foreach (var payload in new[] { _kit.EncodeEmptyDelta("mallory"), _kit.EncodeEmptyDelta("mallory", sparseNothing: true) })
        {
            var verdict = service.Receive("mallory", payload);
            Assert.Equal(RejectionReason.Empty, verdict.Reason);
            Assert.Contains("nothing to aggregate", verdict.Message);
        }
        Assert.Equal(0, service.Registry.Deltas.PendingCount(AggregatorTestKit.Model));
        Assert.Equal(2, service.Registry.Rejections.Counts()[RejectionReason.Empty]);
    }

    [Fact]
    public async Task Attack_deltas_dated_year_9999_or_long_ago_are_refused()
    {
        // Main accepted a delta created in the year 9999.
        await using var service = await StartAsync();
        var future = service.Receive("mallory", _kit.EncodeDelta("mallory", createdAt: new DateTimeOffset(9999, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        Assert.Equal(RejectionReason.FutureTimestamp, future.Reason);
        Assert.Contains("9999-01-01", future.Message);
        Assert.Equal(RejectionReason.Expired, service.Receive("mallory", _kit.EncodeDelta("mallory", createdAt: DateTimeOffset.UnixEpoch)).Reason);
        // Within the allowed skew a fast device clock is fine.
        Assert.True(service.Receive("honest", _kit.EncodeDelta("honest", createdAt: DateTimeOffset.UtcNow.AddMinutes(2))).Accepted);
        Assert.Equal(1, service.Registry.Deltas.PendingCount(AggregatorTestKit.Model));
    }

    [Fact]
    public async Task Attack_2000_deltas_while_a_canary_runs_stay_bounded_and_none_is_lost()
    {
        // On main all 2,000 were buffered (bufferSize 10) and every aggregation tick loaded all of them into memory.
        await using var service = await StartAsync(o => o with { Aggregation = o.Aggregation with { BufferSize = 10, MaxPending = 1_000, MaxPendingPerDevice = 20 } });
        var seed = service.Registry.Latest(AggregatorTestKit.Model, VersionStatus.Released)!;
        service.Registry.AddVersion(seed with { Version = "1.1.0", Parent = "1.0.0", Status = VersionStatus.Canary });

        var verdicts = new List<DeltaVerdict>();
        for (var i = 0; i < 2_000; i++) verdicts.Add(service.Receive($"dev-{i % 200}", _kit.EncodeDelta($"dev-{i % 200}")));

        Assert.Equal(1_000, service.Registry.Deltas.PendingCount(AggregatorTestKit.Model));
        Assert.Equal(1_000, verdicts.Count(v => v.Accepted));
        Assert.All(verdicts.Where(v => !v.Accepted), v => Assert.Equal(RejectionReason.PendingFull, v.Reason));
        Assert.Equal(1_000, service.Counters.Rejected(RejectionReason.PendingFull));
        // Every refusal is counted; the rejection rows themselves are rate-limited per device (Journal's RejectionThrottle).
        Assert.InRange(service.Registry.Rejections.Counts()[RejectionReason.PendingFull], 1, 1_000);
        // Refused deltas are not marked seen: the device may send the same delta again once there is room.
        var refused = verdicts.First(v => !v.Accepted).Delta!.Header.DeltaId.ToString("D");
        Assert.False(service.Registry.Deltas.IsSeen(refused));
        Assert.Null(await service.AggregateAsync(force: true));
    }

    [Fact]
    public async Task Attack_one_device_cannot_fill_the_pending_buffer()
    {
        await using var service = await StartAsync(o => o with { Aggregation = o.Aggregation with { BufferSize = 10, MaxPending = 100, MaxPendingPerDevice = 20 } });
        var verdicts = Enumerable.Range(0, 50).Select(_ => service.Receive("mallory", _kit.EncodeDelta("mallory"))).ToArray();

        Assert.Equal(20, verdicts.Count(v => v.Accepted));
        Assert.All(verdicts.Skip(20), v => Assert.Equal(RejectionReason.DeviceQuota, v.Reason));
        Assert.True(service.Receive("honest", _kit.EncodeDelta("honest")).Accepted);
    }
}
