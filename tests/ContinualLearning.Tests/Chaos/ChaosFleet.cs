using System.Collections.Concurrent;
using System.Diagnostics;
using ContinualLearning.Aggregator.Rollout;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Topics;
using MQTTnet;
using MQTTnet.Exceptions;

namespace ContinualLearning.Tests.Chaos;

/// <summary>
/// The simulated fleet of the chaos test: many device ids multiplexed over a few MQTT connections (the broker runs
/// without ACL, so one connection may publish on any device's topics). Each device has a retained online status; the
/// fleet sends real encoded deltas with known ids at a steady rate, and re-publishes any delta whose PUBACK did not
/// come or said the broker had no subscriber for it (what a device's outbox does), so every id it counts as sent was
/// taken by the broker for a subscriber at least once.
/// It follows the releases on the wire like devices do (canary devices run the canary version, the others the last
/// release to all) and reports accuracy as telemetry, so the aggregators' canaries get decided: a version the seed
/// marks bad reports worse on the canary and is rolled back, the others are promoted.
/// </summary>
internal sealed class ChaosFleet : IAsyncDisposable
{
    public const string Fleet = "chaos";
    private const int Connections = 4;
    private static readonly TimeSpan PublishPatience = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(500);

    private readonly AggregatorTestKit _kit;
    private readonly ChaosSettings _settings;
    private readonly FleetMqttClient[] _clients;
    private readonly DeltaConnection[] _deltas;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _releaseLock = new();
    private readonly ConcurrentQueue<string> _failures = new();
    private long _lastSequence;
    private Task _telemetry = Task.CompletedTask;
    private int _acked;
    private int _republished;
    private int _noSubscribers;

    public ChaosFleet(AggregatorTestKit kit, ChaosSettings settings, int brokerPort)
    {
        _kit = kit;
        _settings = settings;
        Devices = DeviceIds(settings);
        CanaryDevices = CanaryCohort(settings);
        _clients = Enumerable.Range(0, Math.Min(Connections, settings.Devices)).Select(i => new FleetMqttClient(new FleetMqttClientOptions
        {
            ClientId = $"chaos-fleet-{i}",
            Port = brokerPort,
            ReconnectMaxDelay = TimeSpan.FromSeconds(1),
        })).ToArray();
        _deltas = Enumerable.Range(0, _clients.Length).Select(i => new DeltaConnection($"chaos-deltas-{i}", brokerPort)).ToArray();
        _clients[0].MessageReceived += OnReleaseAsync;
    }

    public IReadOnlyList<string> Devices { get; }

    public static string[] DeviceIds(ChaosSettings settings) => Enumerable.Range(0, settings.Devices).Select(i => $"dev-{i:D5}").ToArray();

    /// <summary>A tenth of the fleet (at least 2 devices): named in the aggregators' rollout:canaryDevices.</summary>
    public static string[] CanaryCohort(ChaosSettings settings) => DeviceIds(settings).Take(Math.Max(2, settings.Devices / 10)).ToArray();

    public IReadOnlyList<string> CanaryDevices { get; }

    /// <summary>Every delta id sent (acknowledged by the broker), by device.</summary>
    public ConcurrentDictionary<string, string> Sent { get; } = new(StringComparer.Ordinal);

    public int Acked => Volatile.Read(ref _acked);

    /// <summary>Publishes sent again because an attempt got no PUBACK in time or a refusal.</summary>
    public int Republished => Volatile.Read(ref _republished);

    /// <summary>PUBACKs that said "no matching subscribers": the broker discarded the delta (each was sent again).</summary>
    public int NoSubscribers => Volatile.Read(ref _noSubscribers);

    /// <summary>The version last released to all, as the release topic said.</summary>
    public string CurrentRelease { get; private set; } = "1.0.0";

    /// <summary>The version on the canary cohort now, or null.</summary>
    public string? Candidate { get; private set; }

    /// <summary>Every release seen on the wire: (sequence, version, cohort).</summary>
    public ConcurrentQueue<(long Sequence, string Version, string Cohort)> Releases { get; } = new();

    /// <summary>Problems of the fleet itself (not of the aggregators), reported by the test.</summary>
    public IReadOnlyCollection<string> Failures => _failures;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _clients[0].SubscribeAsync(FleetTopics.Release(Fleet, AggregatorTestKit.Model), cancellationToken: cancellationToken);
        foreach (var client in _clients) await client.StartAsync(cancellationToken);
        for (var i = 0; i < Devices.Count; i++)
        {
            var id = Devices[i];
            var status = new DeviceStatus { DeviceId = id, State = DeviceState.Online, Timestamp = DateTimeOffset.UtcNow, ModelName = AggregatorTestKit.Model, ModelVersion = "1.0.0" };
            await ClientOf(i).PublishAsync(FleetTopics.Status(Fleet, id), FleetJson.Serialize(status), retain: true, cancellationToken: cancellationToken);
        }
        _telemetry = Task.Run(() => TelemetryLoopAsync(_stop.Token), CancellationToken.None);
    }

    /// <summary>Sends <see cref="ChaosSettings.Deltas"/> deltas at a steady rate over <see cref="ChaosSettings.LoadDuration"/>; returns when the broker acknowledged all.</summary>
    public async Task SendDeltasAsync(Random rng, Action<int> progress, CancellationToken cancellationToken)
    {
        var interval = _settings.LoadDuration / _settings.Deltas;
        var clock = Stopwatch.StartNew();
        var inFlight = new List<Task>(_settings.Deltas);
        for (var n = 0; n < _settings.Deltas; n++)
        {
            var due = interval * n;
            if (due > clock.Elapsed) await Task.Delay(due - clock.Elapsed, cancellationToken);
            var device = rng.Next(Devices.Count);
            var id = Guid.NewGuid();
            var payload = _kit.EncodeDelta(Devices[device], baseVersion: CurrentRelease, id: id, value: (float)(rng.NextDouble() - 0.5) * 0.002f);
            inFlight.Add(PublishUntilAckedAsync(device, id.ToString("D"), payload, cancellationToken));
            if (n % 250 == 0) progress(n);
        }
        await Task.WhenAll(inFlight);
    }

    private async Task PublishUntilAckedAsync(int device, string id, byte[] payload, CancellationToken cancellationToken)
    {
        var connection = _deltas[device % _deltas.Length];
        for (var attempt = 0; ; attempt++)
        {
            if (attempt > 0) Interlocked.Increment(ref _republished);
            using var patience = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            patience.CancelAfter(PublishPatience);
            try
            {
                var code = await connection.PublishAsync(FleetTopics.DeltaTopic(Fleet, Devices[device]), payload, patience.Token);
                if (code == MqttClientPublishReasonCode.Success)
                {
                    Sent[id] = Devices[device];
                    Interlocked.Increment(ref _acked);
                    return;
                }
                // No subscriber took it (the shared subscription not there, e.g. right after a broker restart): send again.
                if (code == MqttClientPublishReasonCode.NoMatchingSubscribers) Interlocked.Increment(ref _noSubscribers);
                else _failures.Enqueue($"publish of {id} refused: {code}");
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // No PUBACK in time (broker restarting): send again, as a device's outbox does. The id stays the same.
            }
            catch (Exception ex) when (ex is MqttCommunicationException or MqttClientNotConnectedException)
            {
                // The connection broke (broker restart): the next attempt reconnects.
            }
            await Task.Delay(RetryDelay, cancellationToken);
        }
    }

    private FleetMqttClient ClientOf(int device) => _clients[device % _clients.Length];

    private Task OnReleaseAsync(FleetMessage message)
    {
        if (FleetTopics.TryParse(message.Topic)?.Kind != FleetTopicKind.ModelRelease || message.Payload.Length == 0) return Task.CompletedTask;
        var release = FleetJson.ReadRelease(message.Payload);
        lock (_releaseLock)
        {
            var sequence = release.Sequence ?? 0;
            // A retained release is delivered again on every reconnect: only a higher sequence is news.
            if (sequence <= _lastSequence) return Task.CompletedTask;
            _lastSequence = sequence;
            Releases.Enqueue((sequence, release.Version, release.Cohort));
            if (release.Cohort == Cohorts.Canary)
            {
                Candidate = release.Version;
            }
            else
            {
                CurrentRelease = release.Version;
                Candidate = null;
            }
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// Every 250 ms a few canary and a few control devices report the accuracy of what they run. Canary devices on a
    /// version the seed marks bad report 0.6 against the control's 0.9 (rolled back); otherwise both about 0.9.
    /// </summary>
    private async Task TelemetryLoopAsync(CancellationToken stop)
    {
        var rng = new Random(_settings.Seed ^ 0x5eed);
        var control = Devices.Skip(CanaryDevices.Count).ToArray();
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(250, stop);
                string current;
                string? candidate;
                lock (_releaseLock) (current, candidate) = (CurrentRelease, Candidate);
                var reports = new List<(string Device, string Version, double Accuracy)>();
                for (var i = 0; i < 4; i++)
                {
                    var canary = CanaryDevices[rng.Next(CanaryDevices.Count)];
                    var version = candidate ?? current;
                    reports.Add((canary, version, (candidate is not null && IsBad(candidate) ? 0.6 : 0.9) + rng.NextDouble() * 0.01));
                    reports.Add((control[rng.Next(control.Length)], current, 0.9 + rng.NextDouble() * 0.01));
                }
                foreach (var (device, version, accuracy) in reports)
                {
                    var telemetry = new Telemetry { DeviceId = device, Timestamp = DateTimeOffset.UtcNow, ModelVersion = version, BaseVersion = version, Accuracy = accuracy, AccuracyWindow = 100 };
                    var index = int.Parse(device.AsSpan(4), System.Globalization.CultureInfo.InvariantCulture);
                    using var patience = CancellationTokenSource.CreateLinkedTokenSource(stop);
                    patience.CancelAfter(TimeSpan.FromSeconds(2));
                    // Telemetry is best effort on a device too: a report lost in a broker restart is just not counted.
                    try { await ClientOf(index).PublishAsync(FleetTopics.Telemetry(Fleet, device), FleetJson.Serialize(telemetry), FleetQos.AtMostOnce, cancellationToken: patience.Token); }
                    catch (FleetConnectionException) { }
                    catch (OperationCanceledException) when (!stop.IsCancellationRequested) { }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>Whether the seed makes <paramref name="version"/> a bad version (about one in four): stable across processes.</summary>
    public bool IsBad(string version)
    {
        var h = (uint)_settings.Seed;
        foreach (var c in version) h = (h ^ c) * 16777619u;
        return h % 4 == 0;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _telemetry;
        foreach (var client in _clients) await client.DisposeAsync();
        foreach (var connection in _deltas) await connection.DisposeAsync();
        _stop.Dispose();
    }
}
