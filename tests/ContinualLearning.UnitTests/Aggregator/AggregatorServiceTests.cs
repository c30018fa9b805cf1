using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Rollout;
using ContinualLearning.Aggregator.Validation;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;
using Microsoft.Extensions.Time.Testing;

namespace ContinualLearning.UnitTests.Aggregator;

[Collection(BrokerCollection.Name)]
public sealed class AggregatorServiceTests(EmbeddedBrokerFixture fixture) : BrokerTestBase(fixture), IDisposable
{
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForUnitTests();

    public void Dispose() => _kit.Dispose();

    private async Task<AggregatorService> StartAsync(Func<AggregatorOptions, AggregatorOptions>? configure = null)
    {
        var service = new AggregatorService(_kit.Options(Fixture.Broker.Port, Fleet, configure: configure));
        await service.StartAsync();
        return service;
    }

    [Fact]
    public async Task Every_bad_delta_is_rejected_with_its_reason_counted_and_recorded()
    {
        // Pending bounds of 2 deltas, 1 per device; 3 devices per round so the two accepted deltas are not aggregated away.
        await using var service = await StartAsync(o => o with
        {
            Validation = o.Validation with { MaxNorm = 1.0, MaxStaleness = 1, AllowedDevices = new HashSet<string> { "d1", "d2", "mallory" } },
            Aggregation = o.Aggregation with { BufferSize = 2, MaxPending = 2, MaxPendingPerDevice = 1, MinDevices = 3 },
        });
        // A second release makes 1.0.0 one release old; a third (below) makes it two, beyond the bound of 1.
        var dupId = Guid.NewGuid();
        var cases = new (RejectionReason Reason, string Topic, byte[] Payload)[]
        {
            (RejectionReason.Malformed, "d1", _kit.EncodeDelta("d1")[..40]),
            (RejectionReason.DeviceMismatch, "mallory", _kit.EncodeDelta("d1")),
            (RejectionReason.DeviceNotAllowed, "eve", _kit.EncodeDelta("eve")),
            (RejectionReason.UnknownModel, "d1", _kit.EncodeDelta("d1", model: "other")),
            (RejectionReason.UnknownBaseVersion, "d1", _kit.EncodeDelta("d1", baseVersion: "9.9.9")),
            (RejectionReason.ShapeMismatch, "d1", _kit.EncodeDelta("d1", head: new ContinualLearning.Training.HeadSpec([3, 5, 2], ContinualLearning.Training.LossKind.SoftmaxCrossEntropy))),
            (RejectionReason.NonFinite, "d1", _kit.EncodeNaNDelta("d1")),
            (RejectionReason.NormTooLarge, "d1", _kit.EncodeDelta("d1", value: 5f)),
            (RejectionReason.NoSamples, "d1", _kit.EncodeDelta("d1", samples: 0)),
            (RejectionReason.Empty, "d1", _kit.EncodeEmptyDelta("d1")),
            (RejectionReason.FutureTimestamp, "d1", _kit.EncodeDelta("d1", createdAt: DateTimeOffset.UtcNow.AddHours(1))),
            (RejectionReason.Expired, "d1", _kit.EncodeDelta("d1", createdAt: DateTimeOffset.UtcNow.AddDays(-8))),
            (RejectionReason.LabelMismatch, "d1", LabelledDeltas.Encode("d1", ["0", "hello"], _ => 0.01f)),
            (RejectionReason.TooManyNewClasses, "d1", LabelledDeltas.Encode("d1", ["0", "1", .. Enumerable.Range(0, 9).Select(i => $"c{i}")], _ => 0.01f, hidden: 0.001f)),
        };
        foreach (var (reason, topic, payload) in cases)
        {
            var verdict = service.Receive(topic, payload);
            Assert.False(verdict.Accepted, $"{reason} case was accepted");
            Assert.Equal(reason, verdict.Reason);
            Assert.False(string.IsNullOrWhiteSpace(verdict.Message));
        }
        Assert.True(service.Receive("d2", _kit.EncodeDelta("d2", id: dupId)).Accepted);
        Assert.Equal(RejectionReason.Duplicate, service.Receive("d2", _kit.EncodeDelta("d2", id: dupId)).Reason);
        Assert.Equal(RejectionReason.DeviceQuota, service.Receive("d2", _kit.EncodeDelta("d2")).Reason);
        Assert.True(service.Receive("d1", _kit.EncodeDelta("d1")).Accepted);
        Assert.Equal(RejectionReason.PendingFull, service.Receive("mallory", _kit.EncodeDelta("mallory")).Reason);

        // Staleness: two more published releases put base 1.0.0 beyond S = 1.
        var seed = service.Registry.Latest(AggregatorTestKit.Model, VersionStatus.Released)!;
        foreach (var v in new[] { "1.1.0", "1.2.0" })
            service.Registry.AddVersion(seed with { Version = v, Parent = "1.0.0", Status = VersionStatus.Released });
        Assert.Equal(RejectionReason.TooStale, service.Receive("d1", _kit.EncodeDelta("d1")).Reason);
        service.Registry.AddVersion(seed with { Version = "1.3.0", Parent = "1.2.0", Status = VersionStatus.RolledBack });
        Assert.Equal(RejectionReason.RolledBackBase, service.Receive("d1", _kit.EncodeDelta("d1", baseVersion: "1.3.0")).Reason);

        Assert.Equal(2, service.Counters.Accepted);
        // The clustering reasons need clustering on: Clustering/ClusterAggregationTests replays them.
        var reasons = Enum.GetValues<RejectionReason>().Except([RejectionReason.RetiredCluster, RejectionReason.ClusterMoved]).ToArray();
        foreach (var reason in reasons)
            Assert.Equal(1, service.Counters.Rejected(reason));
        var recorded = service.Registry.Rejections.Counts();
        Assert.Equal(reasons.Length, recorded.Count);
        Assert.All(recorded.Values, count => Assert.Equal(1, count));
    }

    [Fact]
    public async Task A_candidate_another_instance_has_not_released_yet_holds_the_next_aggregation_until_it_is()
    {
        // No background tick: its rollout check would take the candidate over (as an instance resuming a rollout another
        // left behind does) and release it before this test plays the other instance releasing it.
        await using var service = await StartAsync(o => o with { Rollout = o.Rollout with { Canary = false }, Tick = TimeSpan.FromHours(1) });
        Assert.True(service.Receive("d1", _kit.EncodeDelta("d1")).Accepted);
        Assert.True(service.Receive("d2", _kit.EncodeDelta("d2")).Accepted);
        // Another instance on this registry has committed 1.1.0 and not yet released it.
        var seed = service.Registry.Latest(AggregatorTestKit.Model, VersionStatus.Released)!;
        service.Registry.AddVersion(seed with { Version = "1.1.0", Parent = "1.0.0", Status = VersionStatus.Candidate });

        Assert.Null(await service.AggregateAsync(force: true));
        Assert.Equal(2, service.Registry.Deltas.PendingCount(AggregatorTestKit.Model));

        Assert.True(service.Registry.TryTransition(AggregatorTestKit.Model, "1.1.0", VersionStatus.Candidate, VersionStatus.Released));
        var created = await service.AggregateAsync(force: true);
        Assert.NotNull(created);
        Assert.Equal("1.2.0", created.Version);
        Assert.Equal("1.1.0", created.Parent);
        Assert.Equal(VersionStatus.Released, created.Status);
    }

    [Fact]
    public async Task Pending_deltas_survive_a_restart_and_are_never_counted_twice()
    {
        var ids = Enumerable.Range(0, 3).Select(_ => Guid.NewGuid()).ToArray();
        await using (var first = await StartAsync())
        {
            foreach (var (id, i) in ids.Select((id, i) => (id, i)))
                Assert.True(first.Receive($"d{i}", _kit.EncodeDelta($"d{i}", id: id, value: 0.01f * (i + 1))).Accepted);
            Assert.Equal(3, first.Registry.Deltas.PendingCount(AggregatorTestKit.Model));
        }

        ModelVersionRecord created;
        await using (var second = await StartAsync(o => o with { Rollout = o.Rollout with { Canary = false } }))
        {
            Assert.Equal(3, second.Registry.Deltas.PendingCount(AggregatorTestKit.Model));
            // A redelivery after the restart is a duplicate, not a fourth delta.
            Assert.Equal(RejectionReason.Duplicate, second.Receive("d0", _kit.EncodeDelta("d0", id: ids[0])).Reason);
            created = (await second.AggregateAsync(force: true))!;
            Assert.NotNull(created);
            Assert.Equal("1.1.0", created.Version);
            Assert.Equal(VersionStatus.Released, created.Status);
            Assert.Equal(ids.Select(i => i.ToString("D")).Order(), created.DeltaIds.Order());
            Assert.Equal(0, second.Registry.Deltas.PendingCount(AggregatorTestKit.Model));
        }

        await using (var third = await StartAsync())
        {
            Assert.Equal(0, third.Registry.Deltas.PendingCount(AggregatorTestKit.Model));
            Assert.Equal(RejectionReason.Duplicate, third.Receive("d1", _kit.EncodeDelta("d1", id: ids[1])).Reason);
            Assert.Null(await third.AggregateAsync(force: true));
            Assert.Equal(3, third.Registry.Deltas.States()[DeltaState.Aggregated]);
            // The new global is the weighted mean applied to 1.0.0 (equal sample counts: mean of 0.01, 0.02, 0.03 = 0.02).
            var parent = RegistryModels.Load(third.Registry, third.Registry.GetVersion(AggregatorTestKit.Model, "1.0.0")!);
            var child = RegistryModels.Load(third.Registry, third.Registry.GetVersion(AggregatorTestKit.Model, "1.1.0")!);
            Assert.Equal("1.0.0", child.Bundle.Manifest.ParentVersion);
            for (var t = 0; t < parent.Bundle.HeadWeights.Count; t++)
                for (var i = 0; i < parent.Bundle.HeadWeights[t].Count; i++)
                    Assert.Equal(parent.Bundle.HeadWeights[t].Data[i] + 0.02f, child.Bundle.HeadWeights[t].Data[i], 1e-5f);
        }
    }

    [Fact]
    public async Task Buffered_deltas_are_aggregated_once_the_oldest_is_T_old_on_the_service_clock()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
        // The loop's tick is an hour of the fake clock: only the test's calls aggregate.
        await using var service = new AggregatorService(_kit.Options(Fixture.Broker.Port, Fleet, configure: o => o with
        {
            Tick = TimeSpan.FromHours(1),
            Aggregation = o.Aggregation with { MaxWait = TimeSpan.FromMinutes(1), MinDeltas = 2 },
            Rollout = o.Rollout with { Canary = false },
        }), time: time);
        await service.StartAsync();
        Assert.True(service.Receive("d1", _kit.EncodeDelta("d1", createdAt: time.GetUtcNow())).Accepted);
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Null(await service.AggregateAsync()); // old enough, but one delta is below MinDeltas
        Assert.True(service.Receive("d2", _kit.EncodeDelta("d2", createdAt: time.GetUtcNow())).Accepted);
        Assert.NotNull(await service.AggregateAsync()); // two deltas, the oldest 5 minutes old

        Assert.True(service.Receive("d3", _kit.EncodeDelta("d3", createdAt: time.GetUtcNow())).Accepted);
        Assert.True(service.Receive("d4", _kit.EncodeDelta("d4", createdAt: time.GetUtcNow())).Accepted);
        time.Advance(TimeSpan.FromSeconds(59));
        Assert.Null(await service.AggregateAsync());
        time.Advance(TimeSpan.FromSeconds(1));
        var created = await service.AggregateAsync();
        Assert.Equal("1.2.0", created!.Version);
        Assert.Equal(time.GetUtcNow(), created.Created);
        Assert.Equal(time.GetUtcNow(), service.Registry.Decisions.List(AggregatorTestKit.Model, "1.2.0").Single(d => d.Decision == DecisionKind.Released).At);
    }

    [Fact]
    public async Task Deltas_over_mqtt_are_aggregated_after_K_and_the_release_is_signed_and_retained()
    {
        await using var service = await StartAsync(o => o with
        {
            Aggregation = o.Aggregation with { BufferSize = 4 },
            Rollout = o.Rollout with { Canary = false },
        });
        var created = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        service.Decided += (v, d) => created.TrySetResult($"{v} {d.ToText()}");
        var device = Client("dev");
        await device.StartAsync();
        for (var i = 0; i < 4; i++)
            await device.PublishAsync(FleetTopics.DeltaTopic(Fleet, $"dev{i}"), _kit.EncodeDelta($"dev{i}"));
        Assert.Equal("1.1.0 released", await created.Task.WaitAsync(Patience));

        var watcher = Client("watch");
        var release = new TaskCompletionSource<Release>(TaskCreationOptions.RunContinuationsAsynchronously);
        var chunks = new List<BundleChunk>();
        watcher.MessageReceived += m =>
        {
            if (m.Topic.EndsWith("/release", StringComparison.Ordinal)) release.TrySetResult(FleetJson.ReadRelease(m.Payload));
            return Task.CompletedTask;
        };
        await watcher.SubscribeAsync(FleetTopics.Release(Fleet, AggregatorTestKit.Model));
        await watcher.StartAsync();
        var r = await release.Task.WaitAsync(Patience);
        Assert.Equal("1.1.0", r.Version);
        Assert.Equal(Cohorts.All, r.Cohort);
        using var publicKey = ReleaseKeys.LoadPublic(_kit.PublicKeyPath);
        Assert.True(ReleaseSigner.Verify(r, publicKey).Ok);
        Assert.Equal(r.BundleSha256, service.Registry.GetVersion(AggregatorTestKit.Model, "1.1.0")!.ArtifactSha256);
    }

    [Theory]
    [InlineData(0.86, DecisionKind.Promoted, VersionStatus.Released, "1.1.0")]
    [InlineData(0.55, DecisionKind.RolledBack, VersionStatus.RolledBack, "1.0.0")]
    public async Task Canary_is_promoted_or_rolled_back_from_telemetry(double canaryAccuracy, DecisionKind decision, string finalStatus, string finalRelease)
    {
        // The test decides when the rollout is checked: the background loop (Tick) would race it for the verdict.
        await using var service = await StartAsync(o => o with { Tick = TimeSpan.FromHours(1), Rollout = o.Rollout with { CanaryDevices = ["c1", "c2"], MinReports = 2, AccuracyMargin = 0.02 } });
        var publisher = Client("devices");
        await publisher.StartAsync();
        foreach (var d in new[] { "c1", "c2", "k1", "k2" })
        {
            await publisher.PublishAsync(FleetTopics.Status(Fleet, d), FleetJson.Serialize(new DeviceStatus { DeviceId = d, State = DeviceState.Online, ModelVersion = "1.0.0" }), retain: true);
            Assert.True(service.Receive(d, _kit.EncodeDelta(d)).Accepted);
        }
        await WaitUntil(() => service.Devices.Count == 4);

        var candidate = await service.AggregateAsync(force: true);
        Assert.Equal(VersionStatus.Canary, candidate!.Status);
        Assert.Equal(["c1", "c2"], service.Canary!.CanaryDevices.Order());
        // Deltas keep arriving during the canary but are not aggregated until it is decided.
        Assert.True(service.Receive("k1", _kit.EncodeDelta("k1")).Accepted);
        Assert.True(service.Receive("k2", _kit.EncodeDelta("k2")).Accepted);
        Assert.Null(await service.AggregateAsync(force: true));

        Assert.Equal(RolloutVerdict.Wait, (await service.CheckRolloutAsync())!.Verdict);
        var now = DateTimeOffset.UtcNow;
        foreach (var (d, v, a) in new[] { ("c1", "1.1.0", canaryAccuracy), ("c2", "1.1.0", canaryAccuracy + 0.01), ("k1", "1.0.0", 0.86), ("k2", "1.0.0", 0.85) })
            service.ReceiveTelemetry(d, new Telemetry { DeviceId = d, ModelVersion = v, Accuracy = a }, now);
        var result = await service.CheckRolloutAsync();
        Assert.Equal(decision == DecisionKind.Promoted ? RolloutVerdict.Promote : RolloutVerdict.Rollback, result!.Verdict);
        Assert.Equal(finalStatus, service.Registry.GetVersion(AggregatorTestKit.Model, "1.1.0")!.Status);
        var recorded = service.Registry.Decisions.List(AggregatorTestKit.Model, "1.1.0");
        Assert.Equal([DecisionKind.CanaryStarted, decision], recorded.Select(r => r.Decision));
        Assert.Contains("\"canaryReports\":2", recorded[^1].NumbersJson);

        var watcher = Client("watch");
        var release = new TaskCompletionSource<Release>(TaskCreationOptions.RunContinuationsAsynchronously);
        watcher.MessageReceived += m =>
        {
            release.TrySetResult(FleetJson.ReadRelease(m.Payload));
            return Task.CompletedTask;
        };
        await watcher.SubscribeAsync(FleetTopics.Release(Fleet, AggregatorTestKit.Model));
        await watcher.StartAsync();
        var retained = await release.Task.WaitAsync(Patience);
        Assert.Equal(finalRelease, retained.Version);
        Assert.Equal(Cohorts.All, retained.Cohort);

        // After a rollback the pending delta (based on 1.0.0) is still good; after a promotion it is one release old.
        var next = await service.AggregateAsync(force: true);
        Assert.Equal("1.2.0", next!.Version);
        Assert.Equal(finalRelease, next.Parent);
    }

    [Theory]
    [InlineData(0.86, RolloutVerdict.Promote, VersionStatus.Released)]
    [InlineData(0.55, RolloutVerdict.Rollback, VersionStatus.RolledBack)]
    public async Task Canary_counts_telemetry_of_devices_serving_a_local_pre_release_of_the_candidate(double canaryAccuracy, RolloutVerdict expected, string finalStatus)
    {
        // The test decides when the rollout is checked: the background loop (Tick) would race it for the verdict.
        await using var service = await StartAsync(o => o with { Tick = TimeSpan.FromHours(1), Rollout = o.Rollout with { CanaryDevices = ["c1", "c2"], MinReports = 2, AccuracyMargin = 0.02 } });
        var publisher = Client("devices");
        await publisher.StartAsync();
        foreach (var d in new[] { "c1", "c2", "k1", "k2" })
        {
            await publisher.PublishAsync(FleetTopics.Status(Fleet, d), FleetJson.Serialize(new DeviceStatus { DeviceId = d, State = DeviceState.Online, ModelVersion = "1.0.0" }), retain: true);
            Assert.True(service.Receive(d, _kit.EncodeDelta(d)).Accepted);
        }
        await WaitUntil(() => service.Devices.Count == 4);
        var candidate = await service.AggregateAsync(force: true);
        Assert.Equal("1.1.0", candidate!.Version);
        Assert.Equal(VersionStatus.Canary, candidate.Status);

        // Every device has fine-tuned locally: what serves is a pre-release, the release it runs on is the base.
        // Only the base version ties a report to the candidate; the served version "1.1.0-local.2" never equals it.
        var now = DateTimeOffset.UtcNow;
        foreach (var (d, served, baseVersion, a) in new[]
        {
            ("c1", "1.1.0-local.2", "1.1.0", canaryAccuracy),
            ("c2", "1.1.0-local.2", "1.1.0", canaryAccuracy + 0.01),
            ("k1", "1.0.0-local.7", "1.0.0", 0.86),
            ("k2", "1.0.0-local.3", "1.0.0", 0.85),
        })
            service.ReceiveTelemetry(d, new Telemetry { DeviceId = d, ModelVersion = served, BaseVersion = baseVersion, Accuracy = a }, now);

        var result = await service.CheckRolloutAsync();
        Assert.Equal(expected, result!.Verdict);
        Assert.Equal(finalStatus, service.Registry.GetVersion(AggregatorTestKit.Model, "1.1.0")!.Status);
        Assert.Contains("\"canaryReports\":2", service.Registry.Decisions.List(AggregatorTestKit.Model, "1.1.0")[^1].NumbersJson);
    }
}
