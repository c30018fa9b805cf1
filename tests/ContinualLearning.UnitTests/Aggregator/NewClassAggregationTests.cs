using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Bundle;
using ContinualLearning.Tensors;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// Issue 12, item 4: deltas from devices whose label sets differ, through the real service, registry (SQLite) and codec.
/// The kit's release 1.0.0 is a 3 → 4 → 2 softmax head with labels "0" and "1".
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class NewClassAggregationTests(EmbeddedBrokerFixture fixture) : BrokerTestBase(fixture), IDisposable
{
    private readonly List<AggregatorTestKit> _kits = [];

    public void Dispose()
    {
        foreach (var kit in _kits) kit.Dispose();
    }

    private async Task<AggregatorService> StartAsync(Func<AggregatorOptions, AggregatorOptions>? configure = null)
    {
        var kit = AggregatorTestKit.ForUnitTests();
        _kits.Add(kit);
        var service = new AggregatorService(kit.Options(Fixture.Broker.Port, Fleet, configure: o =>
        {
            var tested = o with { Tick = TimeSpan.FromHours(1), Rollout = o.Rollout with { Canary = false } };
            return configure is null ? tested : configure(tested);
        }));
        await service.StartAsync();
        return service;
    }

    private static ModelBundle Bundle(AggregatorService service, string version) =>
        RegistryModels.Load(service.Registry, service.Registry.GetVersion(AggregatorTestKit.Model, version)!).Bundle;

    private static NamedTensor Tensor(ModelBundle bundle, string name) => bundle.HeadWeights.Single(t => t.Name == name);

    private static float[] Row(ModelBundle bundle, int row) =>
        [.. Tensor(bundle, "2.weight").Data.AsSpan(row * 4, 4), Tensor(bundle, "2.bias").Data[row]];

    [Fact]
    public async Task A_class_two_devices_contribute_enters_the_release_with_their_aggregated_rows()
    {
        await using var service = await StartAsync();
        float A(string l) => l switch { "0" => 0.01f, "1" => 0.02f, _ => 0.3f };
        float B(string l) => l switch { "0" => 0.03f, "1" => 0.04f, _ => 0.5f };
        Assert.True(service.Receive("a", LabelledDeltas.Encode("a", ["0", "1", "hello"], A)).Accepted);
        Assert.True(service.Receive("b", LabelledDeltas.Encode("b", ["0", "1", "hello"], B)).Accepted);

        var version = await service.AggregateAsync(force: true);

        Assert.Equal(VersionStatus.Released, version!.Status);
        var parent = Bundle(service, "1.0.0");
        var child = Bundle(service, version.Version);
        Assert.Equal(["0", "1", "hello"], child.Manifest.Task.LabelNames);
        Assert.Equal([3, 4, 3], child.Manifest.Head.LayerSizes);
        // The new rows are the default strategy's aggregate of the two devices' rows (against zero), nothing else.
        var expected = AggregationStrategies.Aggregate(service.Options.Aggregation.Strategy,
            [new WeightedUpdate([0.3f, 0.3f, 0.3f, 0.3f, 0.3f], 1), new WeightedUpdate([0.5f, 0.5f, 0.5f, 0.5f, 0.5f], 1)],
            service.Options.Aggregation.StrategyOptions);
        Assert.Equal(expected, Row(child, 2));
        Assert.Equal(0.4f, Row(child, 2)[0], 1e-6f);
        // The release's own rows moved by the aggregate of their rows.
        for (var r = 0; r < 2; r++)
            Assert.Equal(Row(parent, r).Select(v => v + (r == 0 ? 0.02f : 0.03f)), Row(child, r), (x, y) => Math.Abs(x - y) < 1e-6f);
        var decision = service.Registry.Decisions.List(AggregatorTestKit.Model, version.Version).Single(d => d.Decision == DecisionKind.NewClasses);
        Assert.Contains("admitted 'hello' (2 devices)", decision.Reason);
        Assert.Contains("\"admitted:hello\":2", decision.NumbersJson);
        Assert.Contains("\"newClasses\":1", version.MetricsJson);
        // The release is signed and published as ever: a device verifies it against the fleet key (the bundle's manifest validates with 3 labels).
        Assert.Equal(3, child.Labels!.Count);
    }

    [Fact]
    public async Task Attack_a_class_from_one_device_is_not_admitted_and_the_rest_is_aggregated_as_usual()
    {
        await using var service = await StartAsync();
        Assert.True(service.Receive("a", LabelledDeltas.Encode("a", ["0", "1", "hello"], l => l == "hello" ? 0.3f : 0.01f)).Accepted);
        Assert.True(service.Receive("b", LabelledDeltas.Encode("b", null, _ => 0.03f)).Accepted);

        var version = await service.AggregateAsync(force: true);

        var parent = Bundle(service, "1.0.0");
        var child = Bundle(service, version!.Version);
        Assert.Equal(["0", "1"], child.Manifest.Task.LabelNames);
        Assert.Equal([3, 4, 2], child.Manifest.Head.LayerSizes);
        for (var r = 0; r < 2; r++)
            Assert.Equal(Row(parent, r).Select(v => v + 0.02f), Row(child, r), (x, y) => Math.Abs(x - y) < 1e-6f);
        var decision = service.Registry.Decisions.List(AggregatorTestKit.Model, version.Version).Single(d => d.Decision == DecisionKind.NewClasses);
        Assert.Contains("not admitted 'hello' (1 device): a class enters the release when 2 devices contribute it", decision.Reason);
        Assert.DoesNotContain("newClasses", version.MetricsJson);
    }

    [Fact]
    public async Task The_admission_floor_is_never_below_the_round_floor()
    {
        await using var service = await StartAsync(o => o with { Aggregation = o.Aggregation with { MinDevices = 3, NewClassMinDevices = 1 } });
        Assert.True(service.Receive("a", LabelledDeltas.Encode("a", ["0", "1", "hello"], _ => 0.1f)).Accepted);
        Assert.True(service.Receive("b", LabelledDeltas.Encode("b", ["0", "1", "hello"], _ => 0.1f)).Accepted);
        Assert.True(service.Receive("c", LabelledDeltas.Encode("c", null, _ => 0.1f)).Accepted);

        var version = await service.AggregateAsync(force: true);

        Assert.Equal(["0", "1"], Bundle(service, version!.Version).Manifest.Task.LabelNames);
    }

    [Fact]
    public async Task Rows_are_aligned_by_label_name_whatever_order_a_device_sends_them_in()
    {
        float Value(string l) => l switch { "0" => 0.01f, "1" => 0.02f, "hello" => 0.3f, _ => -0.2f };
        await using var ordered = await StartAsync();
        Assert.True(ordered.Receive("a", LabelledDeltas.Encode("a", ["0", "1", "hello", "bye"], Value)).Accepted);
        Assert.True(ordered.Receive("b", LabelledDeltas.Encode("b", ["0", "1", "hello", "bye"], l => 2 * Value(l))).Accepted);
        await using var shuffled = await StartAsync();
        Assert.True(shuffled.Receive("a", LabelledDeltas.Encode("a", ["0", "1", "hello", "bye"], Value)).Accepted);
        Assert.True(shuffled.Receive("b", LabelledDeltas.Encode("b", ["bye", "1", "hello", "0"], l => 2 * Value(l))).Accepted);

        var one = Bundle(ordered, (await ordered.AggregateAsync(force: true))!.Version);
        var two = Bundle(shuffled, (await shuffled.AggregateAsync(force: true))!.Version);

        // Appended in ordinal order of the names, whatever order any device used.
        Assert.Equal(["0", "1", "bye", "hello"], one.Manifest.Task.LabelNames);
        Assert.Equal(one.Manifest.Task.LabelNames, two.Manifest.Task.LabelNames);
        Assert.Equal(one.HeadWeights.Select(t => t.Shape), two.HeadWeights.Select(t => t.Shape));
        Assert.Equal(one.HeadWeights.SelectMany(t => t.Data), two.HeadWeights.SelectMany(t => t.Data));
        Assert.Equal(-0.3f, Row(one, 2)[0], 1e-6f);
        Assert.Equal(0.45f, Row(one, 3)[4], 1e-6f);
    }

    [Fact]
    public async Task After_a_class_is_admitted_deltas_from_the_old_release_still_fit()
    {
        await using var service = await StartAsync();
        Assert.True(service.Receive("a", LabelledDeltas.Encode("a", ["0", "1", "hello"], _ => 0.3f)).Accepted);
        Assert.True(service.Receive("b", LabelledDeltas.Encode("b", ["0", "1", "hello"], _ => 0.5f)).Accepted);
        var grown = await service.AggregateAsync(force: true);
        var before = Bundle(service, grown!.Version);

        // c still runs 1.0.0 without labels (two rows); d learned "hello" on 1.0.0 on its own: its row is against zero, not
        // against the release's "hello" row, so it is left out; e runs the new release.
        Assert.True(service.Receive("c", LabelledDeltas.Encode("c", null, _ => 0.01f)).Accepted);
        Assert.True(service.Receive("d", LabelledDeltas.Encode("d", ["0", "1", "hello"], l => l == "hello" ? 3f : 0.01f)).Accepted);
        Assert.True(service.Receive("e", LabelledDeltas.Encode("e", null, _ => 0.01f, baseVersion: grown.Version, rowLabels: ["0", "1", "hello"])).Accepted);
        var next = await service.AggregateAsync(force: true);

        var after = Bundle(service, next!.Version);
        Assert.Equal(["0", "1", "hello"], after.Manifest.Task.LabelNames);
        Assert.DoesNotContain(service.Registry.Decisions.List(AggregatorTestKit.Model, next.Version), d => d.Decision == DecisionKind.NewClasses);
        for (var r = 0; r < 2; r++)
            Assert.Equal(Row(before, r).Select(v => v + 0.01f), Row(after, r), (x, y) => Math.Abs(x - y) < 1e-6f);
        // Only e spoke for "hello", not d's 3: the trimmed mean scales e's 0.01 by e's share of the round's weight
        // (c and d are one release stale: 1/√2 each).
        var share = (float)(1 / (1 + 2 / Math.Sqrt(2)));
        Assert.Equal(Row(before, 2).Select(v => v + 0.01f * share), Row(after, 2), (x, y) => Math.Abs(x - y) < 1e-6f);
    }

    [Fact]
    public async Task The_holdout_gate_runs_a_grown_candidate_and_counts_predictions_of_the_new_class_as_errors()
    {
        var rng = new Random(3);
        var samples = Enumerable.Range(0, 40).Select(i => new ContinualLearning.Streams.Sample([rng.Next(10), rng.Next(10), rng.Next(10)], i % 2)).ToArray();
        await using var service = await StartAsync(o => o with { Holdout = new HoldoutOptions { Samples = samples, Margin = 1.0 } });
        // "hello" rows of 4 outweigh every old row on any non-negative hidden activation: the candidate answers "hello" to all.
        Assert.True(service.Receive("a", LabelledDeltas.Encode("a", ["0", "1", "hello"], l => l == "hello" ? 4f : 0f, hidden: 0f)).Accepted);
        Assert.True(service.Receive("b", LabelledDeltas.Encode("b", ["0", "1", "hello"], l => l == "hello" ? 4f : 0f, hidden: 0f)).Accepted);

        var version = await service.AggregateAsync(force: true);

        Assert.Equal(["0", "1", "hello"], Bundle(service, version!.Version).Manifest.Task.LabelNames);
        var holdout = service.Registry.Decisions.List(AggregatorTestKit.Model, version.Version).Single(d => d.Decision == DecisionKind.HoldoutPass);
        Assert.Contains("\"candidate\":0,", holdout.NumbersJson);
        Assert.Contains("\"samples\":40", holdout.NumbersJson);
    }
}
