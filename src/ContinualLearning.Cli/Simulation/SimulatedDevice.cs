using System.Collections.Concurrent;
using System.Security.Cryptography;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.Cli.Simulation;

/// <summary>What every simulated device of a process shares: options, the recorder, the delta factory and the fleet key.</summary>
internal sealed class SimulationContext : IDisposable
{
    private readonly ConcurrentBag<ECDsa> _keys = [];
    private readonly string _publicPem;

    public SimulationContext(SimulationOptions options, SliceRecorder recorder)
    {
        Options = options;
        Recorder = recorder;
        Deltas = new DeltaFactory(options.Model, options.StateDirectory);
        ReleaseTopic = FleetTopics.Release(options.Fleet, options.Model);
        _publicPem = File.ReadAllText(options.ReleaseKeyPath);
        // Fail before connecting anything when the file is not a public key.
        Rent().Dispose();
    }

    public SimulationOptions Options { get; }

    public SliceRecorder Recorder { get; }

    public DeltaFactory Deltas { get; }

    public string ReleaseTopic { get; }

    /// <summary>A key of the fleet for one verification: ECDsa instances are not documented as thread-safe, so each call gets its own.</summary>
    public RentedKey Rent()
    {
        if (!_keys.TryTake(out var key))
        {
            key = ECDsa.Create();
            key.ImportFromPem(_publicPem);
        }
        return new RentedKey(key, _keys);
    }

    public void Dispose()
    {
        while (_keys.TryTake(out var key)) key.Dispose();
    }

    internal readonly struct RentedKey(ECDsa key, ConcurrentBag<ECDsa> pool) : IDisposable
    {
        public ECDsa Key => key;

        public void Dispose() => pool.Add(key);
    }
}

/// <summary>
/// One simulated device: a real <see cref="FleetMqttClient"/> with its own id and persistent session, the device's release
/// decisions (<see cref="ReleaseAcceptance"/>), chunks through a <see cref="BundleAssembler"/> under its own state
/// directory, and — when it is in the install sample — the bundle extracted and loaded as the device runtime loads it.
/// Its deltas come from <see cref="DeltaFactory"/> against the version it runs.
/// </summary>
internal sealed class SimulatedDevice(int number, FleetMqttClient client, SimulationContext context) : IDisposable
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly string _id = client.ClientId;
    private readonly bool _fullInstall = context.Options.FullInstall(number);
    private readonly Random _random = new(HashCode.Combine(context.Options.Seed, number));
    private long _acceptedSequence;
    private BundleAssembler? _assembler;
    private string? _chunkFilter;
    private volatile string? _installed;

    public int Number => number;

    public string Id => _id;

    public FleetMqttClient Client => client;

    /// <summary>The version this device runs, or null before its first install.</summary>
    public string? Installed => _installed;

    public void Dispose() => _lock.Dispose();

    public async Task OnMessageAsync(FleetMessage message)
    {
        if (message.Topic == context.ReleaseTopic) await OnReleaseAsync(message).ConfigureAwait(false);
        else await OnChunkAsync(message).ConfigureAwait(false);
    }

    /// <summary>Publishes one delta against the installed version; false when nothing is installed yet.</summary>
    public async Task<bool> SendDeltaAsync(CancellationToken cancellationToken)
    {
        if (_installed is not { } version) return false;
        (Guid Id, byte[] Payload) delta;
        lock (_random) delta = context.Deltas.Create(_id, version, _random);
        var started = context.Recorder.NowMs;
        try
        {
            await client.PublishAsync(FleetTopics.DeltaTopic(context.Options.Fleet, _id), delta.Payload, cancellationToken: cancellationToken).ConfigureAwait(false);
            context.Recorder.Published(delta.Id, started, delta.Payload.Length);
        }
        catch (Exception ex) when (ex is InvalidOperationException or FleetConnectionException or TimeoutException)
        {
            context.Recorder.PublishFailed();
        }
        return true;
    }

    private async Task OnReleaseAsync(FleetMessage message)
    {
        ReleaseDecision decision;
        using (var key = context.Rent())
            decision = new ReleaseAcceptance(context.Options.Model, key.Key).Judge(message.Topic, message.Payload, "all", Interlocked.Read(ref _acceptedSequence));
        if (decision.Release is { } seen && decision.Verdict is ReleaseVerdict.Fetch or ReleaseVerdict.AlreadyAccepted)
            context.Recorder.ReleaseSeen(seen.Version, decision.Sequence);
        if (decision.Verdict == ReleaseVerdict.Refuse) context.Recorder.Refused(decision.Reason!);
        if (decision.Verdict != ReleaseVerdict.Fetch) return;
        var release = decision.Release!;
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            decision = ReleaseAcceptance.WhileFetching(release, _assembler?.Release.Sequence, _installed);
            if (decision.Verdict == ReleaseVerdict.AlreadyRunning) Interlocked.Exchange(ref _acceptedSequence, decision.Sequence);
            if (decision.Verdict == ReleaseVerdict.Refuse) context.Recorder.Refused(decision.Reason!);
            if (decision.Verdict != ReleaseVerdict.Fetch) return;
            BundleAssembler assembler;
            try
            {
                using var key = context.Rent();
                assembler = new BundleAssembler(release, key.Key, Path.Combine(context.Options.StateDirectory, _id, "incoming", release.Version));
            }
            catch (BundleVerificationException ex)
            {
                context.Recorder.Refused(ex.Message);
                return;
            }
            if (_chunkFilter is not null) await client.UnsubscribeAsync(_chunkFilter).ConfigureAwait(false);
            _assembler = assembler;
            _chunkFilter = FleetTopics.AllChunks(context.Options.Fleet, release.ModelName, release.Version);
            if (assembler.IsComplete) _ = Task.Run(() => InstallAsync(assembler), CancellationToken.None);
            else await client.SubscribeAsync(_chunkFilter).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task OnChunkAsync(FleetMessage message)
    {
        var assembler = _assembler;
        if (assembler is null || assembler.IsComplete) return;
        var result = assembler.AcceptMessage(message.Payload);
        if (result.Status is ChunkStatus.Rejected or ChunkStatus.Unreadable) context.Recorder.Refused(result.Reason);
        else if (result.Status == ChunkStatus.Accepted && assembler.IsComplete) await InstallAsync(assembler).ConfigureAwait(false);
    }

    private async Task InstallAsync(BundleAssembler assembler)
    {
        var release = assembler.Release;
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (!ReferenceEquals(_assembler, assembler)) return; // a newer release took over meanwhile
            var container = assembler.TryAssemble();
            if (container is null) return; // a chunk on disk went bad; staying subscribed brings it again
            context.Deltas.Learn(release.Version, container);
            if (_fullInstall)
            {
                var target = Path.Combine(context.Options.StateDirectory, _id, release.Version);
                DeltaFactory.ExtractAndLoad(container, target);
                Directory.Delete(target, recursive: true);
            }
            assembler.Clear();
            _assembler = null;
            Interlocked.Exchange(ref _acceptedSequence, release.Sequence ?? 0);
            _installed = release.Version;
            context.Recorder.Installed(release.Version, _fullInstall);
            if (_chunkFilter is { } filter)
            {
                _chunkFilter = null;
                await client.UnsubscribeAsync(filter).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is BundleVerificationException or InvalidDataException or IOException or Bundle.BundleException or ArgumentException or FleetConnectionException)
        {
            assembler.Clear();
            _assembler = null;
            context.Recorder.Refused($"release {release.Version} could not be installed: {ex.Message}");
        }
        finally
        {
            _lock.Release();
        }
    }
}
