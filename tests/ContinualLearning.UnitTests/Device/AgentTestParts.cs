using System.Collections.Concurrent;
using ContinualLearning.Device;
using ContinualLearning.Device.Agent;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.Training;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContinualLearning.UnitTests.Device;

/// <summary>A broker connection that records what the agent's parts do with it.</summary>
internal sealed class FakeFleetConnection : IFleetConnection
{
    public bool IsConnected { get; set; } = true;

    public ConcurrentQueue<(string Topic, byte[] Payload, FleetQos Delivery, bool Retain)> Published { get; } = new();

    /// <summary>"subscribe {filter}" / "unsubscribe {filter}", in call order.</summary>
    public ConcurrentQueue<string> Subscriptions { get; } = new();

    public ConcurrentQueue<CommandReply> Replies { get; } = new();

    /// <summary>The topic each reply went to.</summary>
    public ConcurrentQueue<string> ReplyTopics { get; } = new();

    public IEnumerable<string> Topics => Published.Select(p => p.Topic);

    public Task PublishAsync(string topic, byte[] payload, FleetQos delivery = FleetQos.AtLeastOnce, bool retain = false, bool requireSubscriber = false, CancellationToken cancellationToken = default)
    {
        Published.Enqueue((topic, payload, delivery, retain));
        return Task.CompletedTask;
    }

    public Task SubscribeAsync(string topicFilter, CancellationToken cancellationToken = default)
    {
        Subscriptions.Enqueue("subscribe " + topicFilter);
        return Task.CompletedTask;
    }

    public Task UnsubscribeAsync(string topicFilter, CancellationToken cancellationToken = default)
    {
        Subscriptions.Enqueue("unsubscribe " + topicFilter);
        return Task.CompletedTask;
    }

    public Task ReplyAsync(string replyTopic, byte[]? correlationData, byte[] payload, CancellationToken cancellationToken = default)
    {
        ReplyTopics.Enqueue(replyTopic);
        Replies.Enqueue(FleetJson.ReadCommandReply(payload));
        return Task.CompletedTask;
    }
}

/// <summary>A delta transport that records payloads, can fail a number of times first, and may rewrite what it "sends".</summary>
internal sealed class FakeDeltaTransport(int failures = 0, Func<byte[], byte[]>? rewrite = null) : IDeltaTransport
{
    private int _failures = failures;

    public ConcurrentQueue<byte[]> Sent { get; } = new();

    public int Attempts;

    public Task<byte[]> PublishAsync(byte[] payload, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Attempts);
        if (Interlocked.Decrement(ref _failures) >= 0) throw new InvalidOperationException("broker refused the publish (test)");
        var wire = rewrite?.Invoke(payload) ?? payload;
        Sent.Enqueue(wire);
        return Task.FromResult(wire);
    }
}

/// <summary>
/// The agent's parts wired to a fake connection and transport, without a broker (each part can also be used alone).
/// Without a <see cref="DeviceTestKit"/> it makes its own (options adjusted by <c>configure</c>) and deletes it at the end.
/// </summary>
internal sealed class AgentParts : IAsyncDisposable
{
    private readonly bool _ownsKit;

    public AgentParts(Func<DeviceOptions, DeviceOptions>? configure = null, IDeltaTransport? transport = null)
        : this(new DeviceTestKit(brokerPort: 1), transport, configure, ownsKit: true)
    {
    }

    public AgentParts(DeviceTestKit kit, IDeltaTransport? transport = null)
        : this(kit, transport, configure: null, ownsKit: false)
    {
    }

    private AgentParts(DeviceTestKit kit, IDeltaTransport? transport, Func<DeviceOptions, DeviceOptions>? configure, bool ownsKit)
    {
        Kit = kit;
        _ownsKit = ownsKit;
        if (configure is not null) kit.Options = configure(kit.Options);
        var o = kit.Options;
        Runtime = new DeviceRuntime(o, new ManagedEngine());
        Settings = new RuntimeSettings(o.RuntimeOverridesPath, o.Cohort, o.Delta.TopKFraction, o.TelemetryInterval);
        Transport = transport ?? new FakeDeltaTransport();
        Deltas = new DeltaPublisher(Runtime, Settings, Transport, NullLogger.Instance, TimeProvider.System);
        Releases = new ReleaseInstaller(Runtime, kit.Key, Settings, Connection, NullLogger.Instance);
        Reporter = new TelemetryReporter(Runtime, Settings, Connection, Deltas, NullLogger.Instance, TimeProvider.System);
        Commands = NewCommandExecutor();
    }

    /// <summary>Another executor on the same runtime and data directory, as after a restart of the daemon.</summary>
    public CommandExecutor NewCommandExecutor() =>
        new(Runtime, Settings, Connection, Releases, Deltas, Reporter, NullLogger.Instance, TimeProvider.System);

    public DeviceTestKit Kit { get; }

    /// <summary>Delivers <paramref name="version"/>'s signed release and chunks to the installer and checks it was installed.</summary>
    public async Task InstallReleaseAsync(string version)
    {
        var (release, chunks) = Kit.Release(version);
        await Releases.OnReleaseAsync(new FleetMessage(FleetTopics.Release(Kit.Fleet, DeviceTestKit.Model), FleetJson.Serialize(release), true), CancellationToken.None);
        foreach (var chunk in chunks)
            await Releases.OnChunkAsync(new FleetMessage(FleetTopics.Chunk(Kit.Fleet, DeviceTestKit.Model, version, chunk.Index), chunk.Encode(), true), CancellationToken.None);
        Assert.Null(Releases.LastRejection);
        Assert.Equal(version, Runtime.Learner?.Status.BaseVersion);
    }

    public FakeFleetConnection Connection { get; } = new();

    public DeviceRuntime Runtime { get; }

    public RuntimeSettings Settings { get; }

    public IDeltaTransport Transport { get; }

    public DeltaPublisher Deltas { get; }

    public ReleaseInstaller Releases { get; }

    public TelemetryReporter Reporter { get; }

    public CommandExecutor Commands { get; }

    public async ValueTask DisposeAsync()
    {
        Deltas.CompleteIntake();
        Deltas.Dispose();
        Reporter.Dispose();
        Releases.Dispose();
        Commands.Dispose();
        await Runtime.DisposeAsync();
        if (_ownsKit) Kit.Dispose();
    }
}
