using System.Security.Cryptography;
using ContinualLearning.Bundle;
using ContinualLearning.Deltas;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.Tensors;

namespace ContinualLearning.Cli.Demo;

/// <summary>
/// The demo's aggregator on the real protocol: receives CLD1 deltas, validates them (model, tensor names and
/// shapes, finite values, duplicates by delta id, stale or rolled-back base versions, norm bound), buffers them
/// FedBuff-style (aggregate at K deltas or after T seconds), aggregates robustly (<see cref="RobustAggregation"/>),
/// saves each version as a bundle in its registry directory, signs the release (ECDSA P-256) and publishes it in
/// chunks to the canary cohort; the canary devices' A/B telemetry (candidate vs previous version on the same
/// samples) then promotes the version to every device or rolls the canaries back.
/// </summary>
/// <remarks>
/// FALLBACK: named "Lite" on purpose. It stands in for <c>AggregatorService</c> (branch wt-aggregator: SQLite
/// registry, configurable strategies, holdout gate) while that is not on this branch, using only the protocol
/// library, so that <c>cl demo</c> always works.
/// </remarks>
internal sealed class DemoAggregatorLite : IAsyncDisposable
{
    private const int MaxStaleness = 4;
    private const float ServerLearningRate = 1.0f;

    private readonly DemoOptions _options;
    private readonly ECDsa _signingKey;
    private readonly string _registry;
    private readonly DemoState _state;
    private readonly AggregatorStats _stats;
    private readonly FleetMqttClient _client;
    private readonly string _fleet;
    private readonly string _model;
    private readonly Lock _lock = new();
    private readonly List<(WeightDelta Delta, DateTimeOffset At)> _buffer = [];
    private readonly HashSet<Guid> _seen = [];
    private readonly List<string> _order = [];
    private readonly Dictionary<string, IReadOnlyList<NamedTensor>> _weights = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> _containers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _rolledBack = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Telemetry> _telemetry = new(StringComparer.Ordinal);
    private readonly List<double> _acceptedNorms = [];
    private readonly HashSet<string> _canaryDevices;
    private readonly CancellationTokenSource _stop = new();
    private readonly DeltaDecodeOptions _decode = new() { ExpectedTensors = DemoScenario.Head.Parameters().ToArray() };
    private Task? _loop;
    private string _current;
    private Release _currentRelease = null!;
    private (string Version, DateTimeOffset Since)? _canary;
    private int _minor;

    public DemoAggregatorLite(DemoOptions options, FleetMqttClientOptions clientTemplate, ECDsa signingKey, string registryDirectory,
        ModelBundle baseBundle, IEnumerable<string> canaryDevices, DemoState state)
    {
        _options = options;
        _signingKey = signingKey;
        _registry = registryDirectory;
        _state = state;
        _stats = state.Aggregator;
        _fleet = options.Fleet;
        _model = options.ModelName;
        _canaryDevices = canaryDevices.ToHashSet(StringComparer.Ordinal);
        _current = baseBundle.Manifest.Version;
        _order.Add(_current);
        _weights[_current] = baseBundle.HeadWeights;
        _containers[_current] = BundlePackager.Pack(baseBundle.Directory);
        _stats.AddVersion(new VersionRecord(_current, null, 0, 0, 0, 0, DateTimeOffset.UtcNow) { Outcome = VersionOutcome.Base });
        _client = new FleetMqttClient(clientTemplate with { ClientId = $"{_fleet}-aggregator", CleanStart = true });
        _client.MessageReceived += OnMessageAsync;
        _client.HandlerFailed += (m, ex) => _state.Event($"aggregator: could not handle '{m.Topic}': {ex.Message}");
    }

    /// <summary>Weights of every version built (promoted, rolled back or still in canary), for the final evaluation.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<NamedTensor>> VersionWeights
    {
        get
        {
            lock (_lock) return new Dictionary<string, IReadOnlyList<NamedTensor>>(_weights, StringComparer.Ordinal);
        }
    }

    /// <summary>The version every device is meant to run (the last promoted one).</summary>
    public string CurrentVersion
    {
        get
        {
            lock (_lock) return _current;
        }
    }

    /// <summary>Connects, publishes the base version to every device and starts the aggregation loop.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        await _client.StartAsync(ct);
        await _client.SubscribeAsync(FleetTopics.AllDevices(_fleet, FleetTopicKind.DeviceDelta), cancellationToken: ct);
        await _client.SubscribeAsync(FleetTopics.AllDevices(_fleet, FleetTopicKind.DeviceTelemetry), cancellationToken: ct);
        _currentRelease = await PublishReleaseAsync(_current, null, "all", ct);
        _loop = Task.Run(() => LoopAsync(_stop.Token), CancellationToken.None);
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            try
            {
                await _loop;
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>Clears the retained release and chunks this run left on the broker (matters on a shared external broker).</summary>
    public async Task ClearRetainedAsync(CancellationToken ct)
    {
        await _client.PublishAsync(FleetTopics.Release(_fleet, _model), [], retain: true, cancellationToken: ct);
        foreach (var (version, container) in _containers.ToArray())
        {
            var count = BundlePackager.Split(container, _model, version).Count;
            for (var i = 0; i < count; i++)
                await _client.PublishAsync(FleetTopics.Chunk(_fleet, _model, version, i), [], retain: true, cancellationToken: ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _client.DisposeAsync();
        _stop.Dispose();
    }

    private async Task LoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            await Task.Delay(200, ct);
            try
            {
                if (_canary is not null) await JudgeCanaryAsync(ct);
                else if (ReadyToAggregate()) await AggregateAsync(ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                _state.Event($"aggregator: {ex.GetType().Name}: {ex.Message}");
            }
        }
    }

    private bool ReadyToAggregate()
    {
        lock (_lock)
        {
            _stats.Buffered = _buffer.Count;
            if (_buffer.Count == 0) return false;
            return _buffer.Count >= _options.AggregationBuffer || DateTimeOffset.UtcNow - _buffer[0].At >= _options.AggregationTimeout;
        }
    }

    private Task OnMessageAsync(FleetMessage message)
    {
        var topic = FleetTopics.TryParse(message.Topic);
        if (topic?.DeviceId is null || message.Payload.Length == 0) return Task.CompletedTask;
        if (topic.Kind == FleetTopicKind.DeviceTelemetry)
        {
            var telemetry = FleetJson.ReadTelemetry(message.Payload);
            lock (_lock) _telemetry[topic.DeviceId] = telemetry;
        }
        else if (topic.Kind == FleetTopicKind.DeviceDelta)
        {
            OnDelta(topic.DeviceId, message.Payload);
        }
        return Task.CompletedTask;
    }

    private void OnDelta(string topicDevice, byte[] payload)
    {
        Interlocked.Increment(ref _stats.DeltasReceived);
        Interlocked.Add(ref _stats.BytesReceived, payload.Length);
        WeightDelta delta;
        try
        {
            delta = DeltaCodec.Decode(payload, _decode);
        }
        catch (DeltaFormatException ex)
        {
            Reject(topicDevice, "malformed", ex.Message);
            return;
        }
        var h = delta.Header;
        // The topic is what the broker's ACL vouches for; a header claiming another device is spoofed.
        if (h.DeviceId != topicDevice) { Reject(topicDevice, "device id mismatch", $"header says {h.DeviceId}"); return; }
        if (h.ModelName != _model) { Reject(topicDevice, "other model", h.ModelName); return; }
        lock (_lock)
        {
            if (!_seen.Add(h.DeltaId)) { Reject(topicDevice, "duplicate", h.DeltaId.ToString()); return; }
            if (!_weights.ContainsKey(h.BaseVersion)) { Reject(topicDevice, "unknown base", h.BaseVersion); return; }
            if (_rolledBack.Contains(h.BaseVersion)) { Reject(topicDevice, "rolled-back base", h.BaseVersion); return; }
            var staleness = _order.IndexOf(_current) - _order.IndexOf(h.BaseVersion);
            if (staleness > MaxStaleness) { Reject(topicDevice, "stale base", $"{h.BaseVersion} is {staleness} versions behind {_current}"); return; }
            // Norm bound: far above what honest devices send (10× the running median), so it only catches blow-ups.
            var norm = Delta.L2Norm(delta);
            if (_acceptedNorms.Count >= 5 && norm > 10 * RobustAggregation.Median(_acceptedNorms.ToArray()))
            {
                Reject(topicDevice, "norm over bound", $"{norm:0.###}");
                return;
            }
            _acceptedNorms.Add(norm);
            if (_acceptedNorms.Count > 200) _acceptedNorms.RemoveAt(0);
            _buffer.Add((delta, DateTimeOffset.UtcNow));
            _stats.Buffered = _buffer.Count;
        }
        Interlocked.Increment(ref _stats.DeltasAccepted);
    }

    private void Reject(string device, string reason, string detail)
    {
        Interlocked.Increment(ref _stats.DeltasRejected);
        _stats.RejectReasons.AddOrUpdate(reason, 1, (_, n) => n + 1);
        _state.Event($"aggregator: rejected delta from {device}: {reason} ({detail})");
    }

    private async Task AggregateAsync(CancellationToken ct)
    {
        List<(WeightDelta Delta, DateTimeOffset At)> batch;
        string parent;
        IReadOnlyList<NamedTensor> parentWeights;
        List<AggregationInput> inputs = [];
        List<long> samples = [];
        lock (_lock)
        {
            batch = [.. _buffer];
            _buffer.Clear();
            _stats.Buffered = 0;
            parent = _current;
            parentWeights = _weights[parent];
            foreach (var (delta, _) in batch)
            {
                var h = delta.Header;
                if (_rolledBack.Contains(h.BaseVersion))
                {
                    Reject(h.DeviceId, "rolled-back base", h.BaseVersion);
                    continue;
                }
                var staleness = Math.Max(0, _order.IndexOf(parent) - _order.IndexOf(h.BaseVersion));
                inputs.Add(new AggregationInput(h.DeviceId, delta.ToDense(), Math.Max(1, h.SampleCount) * RobustAggregation.StalenessDiscount(staleness)));
                samples.Add(h.SampleCount);
            }
        }
        if (inputs.Count == 0) return;
        var result = RobustAggregation.Aggregate(inputs);
        foreach (var i in result.Filtered)
        {
            Interlocked.Increment(ref _stats.DeltasFiltered);
            _state.Event($"aggregator: left out {inputs[i].DeviceId}'s delta: it points against the others (robust aggregation)");
        }
        if (result.Update is null)
        {
            _state.Event($"aggregator: no delta of {inputs.Count} survived the robust filter; no new version");
            return;
        }

        var weights = Delta.Apply(parentWeights, result.Update, ServerLearningRate);
        var version = $"1.{Interlocked.Increment(ref _minor)}.0";
        var kept = result.Kept.Select(i => inputs[i]).ToArray();
        var record = new VersionRecord(version, parent, kept.Length, kept.Select(k => k.DeviceId).Distinct().Count(),
            result.Kept.Sum(i => samples[i]),
            result.Filtered.Count, DateTimeOffset.UtcNow);
        lock (_lock)
        {
            _order.Add(version);
            _weights[version] = weights;
            _canary = (version, DateTimeOffset.UtcNow);
        }
        _stats.AddVersion(record);
        await PublishReleaseAsync(version, parent, "canary", ct, weights);
        _stats.CanaryState = $"{version} on canary";
        _state.Event($"aggregator: built {version} from {kept.Length} delta(s) of {record.Devices} device(s); signed, released to canary ({string.Join(", ", _canaryDevices.Order())})");
    }

    private async Task JudgeCanaryAsync(CancellationToken ct)
    {
        var (version, since) = _canary!.Value;
        List<(string Device, double Samples, double Candidate, double Previous)> reports = [];
        lock (_lock)
        {
            foreach (var device in _canaryDevices)
            {
                if (!_telemetry.TryGetValue(device, out var t) || t.ModelVersion != version || t.Extra is null) continue;
                if (!t.Extra.TryGetValue("shadowSamples", out var n) || n < _options.CanaryWindow) continue;
                reports.Add((device, n, t.Extra["candidateAccuracy"], t.Extra["previousAccuracy"]));
            }
        }
        var waited = DateTimeOffset.UtcNow - since;
        var complete = reports.Count == _canaryDevices.Count;
        if (!complete && (reports.Count == 0 || waited < 2 * _options.AggregationTimeout)) return;

        var total = reports.Sum(r => r.Samples);
        var candidate = reports.Sum(r => r.Candidate * r.Samples) / total;
        var previous = reports.Sum(r => r.Previous * r.Samples) / total;
        var record = _stats.Versions.First(v => v.Version == version);
        record.CanaryAccuracy = candidate;
        record.ControlAccuracy = previous;
        if (candidate >= previous - _options.CanaryTolerance)
        {
            lock (_lock)
            {
                _current = version;
                _canary = null;
            }
            record.Outcome = VersionOutcome.Promoted;
            _stats.CurrentVersion = version;
            _currentRelease = await PublishReleaseAsync(version, record.Parent, "all", ct);
            _stats.CanaryState = $"{version} promoted";
            _state.Event($"aggregator: canary {version}: {candidate:P1} vs previous {previous:P1} on the same samples → promoted to all devices");
        }
        else
        {
            lock (_lock)
            {
                _rolledBack.Add(version);
                _canary = null;
            }
            record.Outcome = VersionOutcome.RolledBack;
            // Re-publishing the current release sends the canaries back to it (they cached its bundle).
            await _client.PublishAsync(FleetTopics.Release(_fleet, _model), FleetJson.Serialize(_currentRelease), retain: true, cancellationToken: ct);
            _stats.CanaryState = $"{version} rolled back";
            _state.Event($"aggregator: canary {version}: {candidate:P1} vs previous {previous:P1} → ROLLED BACK to {_current}");
        }
    }

    /// <summary>Saves the version as a bundle (manifest signed too), packs it, publishes its chunks then the signed release, all retained.</summary>
    private async Task<Release> PublishReleaseAsync(string version, string? parent, string cohort, CancellationToken ct, IReadOnlyList<NamedTensor>? weights = null)
    {
        byte[]? container;
        lock (_lock) _containers.TryGetValue(version, out container);
        var newBundle = container is null;
        if (container is null)
        {
            var dir = Path.Combine(_registry, version);
            ModelBundle.Save(dir, DemoScenario.Manifest(_model, version, parent), weights!,
                sign: m => Convert.ToBase64String(_signingKey.SignData(m.CanonicalBytesForSigning(), HashAlgorithmName.SHA256)));
            container = BundlePackager.Pack(dir);
            lock (_lock) _containers[version] = container;
        }
        var release = ReleaseSigner.Sign(BundlePackager.CreateRelease(container, _model, version, cohort, parentVersion: parent), _signingKey);
        if (newBundle || version == DemoScenario.BaseVersion)
        {
            foreach (var chunk in BundlePackager.Split(container, _model, version))
                await _client.PublishAsync(FleetTopics.Chunk(_fleet, _model, version, chunk.Index), chunk.Encode(), retain: true, cancellationToken: ct);
        }
        await _client.PublishAsync(FleetTopics.Release(_fleet, _model), FleetJson.Serialize(release), retain: true, cancellationToken: ct);
        return release;
    }
}
