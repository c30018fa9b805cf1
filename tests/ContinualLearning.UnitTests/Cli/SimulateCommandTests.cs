using System.Net;
using System.Text.Json;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Rollout;
using ContinualLearning.Cli.Simulation;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Signing;
using MQTTnet.Server;

namespace ContinualLearning.UnitTests.Cli;

/// <summary>`cl simulate` against a real aggregator on the embedded broker: accepted deltas, releases on every device, the JSON report.</summary>
[Collection(BrokerCollection.Name)]
public sealed class SimulateCommandTests(EmbeddedBrokerFixture fixture) : IDisposable
{
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForUnitTests();
    private readonly string _fleet = "sim" + Guid.NewGuid().ToString("N")[..8];
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-simulate-test-").FullName;

    public void Dispose()
    {
        _kit.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Twenty_devices_send_accepted_deltas_and_every_release_reaches_every_device(int processes)
    {
        await using var service = new AggregatorService(_kit.Options(fixture.Broker.Port, _fleet, configure: o => o with
        {
            Validation = o.Validation with { MaxStaleness = 1000 },
            Aggregation = o.Aggregation with { BufferSize = 20, MaxWait = TimeSpan.FromSeconds(2), MinDevices = 2 },
            Rollout = new RolloutOptions { Canary = false },
        }));
        await service.StartAsync(TestContext.Current.CancellationToken);
        await PublishSeedAsync(service.Registry);

        var json = Path.Combine(_dir, "report.json");
        var output = new StringWriter();
        // The in-process slice (processes: 1) has no child deadline: a run that hangs must fail the test, not hold it.
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        patience.CancelAfter(TimeSpan.FromMinutes(5));
        var report = await SimulationRunner.RunAsync(new SimulationOptions
        {
            Devices = 20,
            BrokerPort = fixture.Broker.Port,
            Fleet = _fleet,
            Model = AggregatorTestKit.Model,
            ReleaseKeyPath = _kit.PublicKeyPath,
            Processes = processes,
            Rate = 40,
            Duration = 3,
            Drain = 60,
            InstallSample = 5,
            RegistryPath = _kit.RegistryPath,
            AggregatorPid = Environment.ProcessId,
            JsonPath = json,
            StateDirectory = Path.Combine(_dir, "state"),
            ProgressInterval = TimeSpan.FromSeconds(1),
        }, TextWriter.Synchronized(output), patience.Token).WaitAsync(TimeSpan.FromMinutes(6), TestContext.Current.CancellationToken);

        var text = output.ToString();
        Assert.NotNull(report);
        Assert.Contains("not training", text, StringComparison.Ordinal);
        Assert.Contains("5 of 20 also extract and load", text, StringComparison.Ordinal);
        Assert.Equal(20, report.Connected);
        Assert.Equal(processes, report.Processes);
        Assert.True(report.DeltasPublished >= 100, $"only {report.DeltasPublished} deltas published:\n{text}");
        Assert.Equal(report.DeltasPublished, report.DeltasAccepted);
        Assert.Equal(report.DeltasPublished, service.Registry.Deltas.States().Values.Sum());
        Assert.True(report.AcceptedPerSecond > 0);
        Assert.True(report.Releases >= 2, $"{report.Releases} releases:\n{text}"); // the seed and at least one aggregated version
        Assert.Equal(report.Releases, report.ReleasesOnEveryDevice);
        Assert.Equal(20, report.DevicesOnNewest);
        Assert.Equal(service.Registry.Latest(AggregatorTestKit.Model, VersionStatus.Released)!.Version, report.Newest);
        Assert.Equal(0, report.Refusals);
        Assert.True(report.FullInstalls >= 5 * report.Releases && report.VerifiedInstalls >= 15 * report.Releases);
        // Every delta that went into a version was installed somewhere, after it was published.
        Assert.Equal(report.DeltasPublished, report.DeltasInInstalledVersions);
        Assert.True(report.DeltaToReleaseP50Seconds > 0 && report.DeltaToReleaseP99Seconds >= report.DeltaToReleaseP50Seconds);
        Assert.True(report.AggregatorCpuSeconds >= 0 && report.AggregatorRssPeakMiB > 0);

        using var written = JsonDocument.Parse(await File.ReadAllTextAsync(json, TestContext.Current.CancellationToken));
        foreach (var field in new[] { "learning", "install", "deltasPublished", "deltasAccepted", "acceptedPerSecond", "deltaToReleaseP50Seconds", "deltaToReleaseP99Seconds",
                     "releaseToAllMedianSeconds", "releaseToAllMaxSeconds", "aggregatorCpuSeconds", "aggregatorRssPeakMiB", "brokerConnectionsPeak", "releaseDetails" })
            Assert.True(written.RootElement.TryGetProperty(field, out _), $"the JSON report has no '{field}'");
        Assert.Equal(report.DeltasAccepted, written.RootElement.GetProperty("deltasAccepted").GetInt32());
    }

    [Fact]
    public async Task Drain_zero_still_waits_for_the_last_publishes_acknowledgements()
    {
        // A broker that acknowledges each delta 300 ms late, as a loaded broker does: when the sending ends, the
        // publishes of the last 300 ms are in flight. With --drain 0 the run used to fail on them ("still
        // unacknowledged by the broker 0 s after the sending ended").
        var port = MosquittoBroker.FreePort();
        using var server = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder()
            .WithDefaultEndpoint().WithDefaultEndpointBoundIPAddress(IPAddress.Loopback).WithDefaultEndpointBoundIPV6Address(IPAddress.None)
            .WithDefaultEndpointPort(port).Build());
        server.InterceptingPublishAsync += async e =>
        {
            if (e.ApplicationMessage.Topic.EndsWith("/delta", StringComparison.Ordinal)) await Task.Delay(300);
        };
        await server.StartAsync();
        try
        {
            await using var service = new AggregatorService(_kit.Options(port, _fleet, configure: o => o with
            {
                Validation = o.Validation with { MaxStaleness = 1000 },
                Rollout = new RolloutOptions { Canary = false },
            }));
            await service.StartAsync(TestContext.Current.CancellationToken);
            await PublishSeedAsync(service.Registry, port);
            using var patience = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            patience.CancelAfter(TimeSpan.FromMinutes(4));
            var output = new StringWriter();

            var report = await SimulationRunner.RunAsync(new SimulationOptions
            {
                Devices = 10,
                BrokerPort = port,
                Fleet = _fleet,
                Model = AggregatorTestKit.Model,
                ReleaseKeyPath = _kit.PublicKeyPath,
                Rate = 100,
                Duration = 2,
                Drain = 0,
                RegistryPath = _kit.RegistryPath,
                AggregatorPid = Environment.ProcessId,
                StateDirectory = Path.Combine(_dir, "state"),
                ProgressInterval = TimeSpan.FromSeconds(1),
            }, TextWriter.Synchronized(output), patience.Token);

            Assert.NotNull(report);
            Assert.True(report.DeltasPublished >= 100, $"only {report.DeltasPublished} deltas published:\n{output}");
        }
        finally
        {
            await server.StopAsync();
        }
    }

    [Fact]
    public void Options_name_the_flag_the_value_and_what_to_do()
    {
        var valid = new SimulationOptions { Devices = 4, ReleaseKeyPath = _kit.PublicKeyPath };
        valid.Validate();
        var tooMany = Assert.Throws<ArgumentException>(() => (valid with { Processes = 8 }).Validate());
        Assert.Contains("--processes 8", tooMany.Message, StringComparison.Ordinal);
        var noKey = Assert.Throws<ArgumentException>(() => (valid with { ReleaseKeyPath = "/nonexistent/release.pub" }).Validate());
        Assert.Contains("release.pub", noKey.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => (valid with { Rate = 0 }).Validate());
        Assert.Throws<ArgumentException>(() => SliceSpec.Parse("4/4"));
        Assert.Equal([1, 4, 7], new SliceSpec(1, 3).Devices(9));
    }

    private async Task PublishSeedAsync(ModelRegistry registry, int? port = null)
    {
        var seed = registry.Latest(AggregatorTestKit.Model, VersionStatus.Released)!;
        await using var client = new FleetMqttClient(fixture.ClientOptions("publisher-" + _fleet) with { Port = port ?? fixture.Broker.Port });
        await client.StartAsync(TestContext.Current.CancellationToken);
        using var key = ReleaseKeys.LoadPrivate(_kit.PrivateKeyPath);
        await new ReleasePublisher(client, _fleet, key).PublishAsync(registry.Artifacts.Read(seed.ArtifactSha256), seed.Name, seed.Version, null, "all",
            registry.Releases.Allocate(seed.Name, seed.Version, "all"), TestContext.Current.CancellationToken);
    }
}
