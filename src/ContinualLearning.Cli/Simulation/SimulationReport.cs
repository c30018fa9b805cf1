using System.Globalization;

namespace ContinualLearning.Cli.Simulation;

/// <summary>One release as the fleet saw it: first receipt of its message → last device installed.</summary>
internal sealed record ReleaseSummary(string Version, int DeltasInVersion, int DevicesInstalled, double? FirstSeenToLastInstallSeconds);

/// <summary>The merged result of a run: what <c>cl simulate</c> prints and writes with <c>--json</c>.</summary>
internal sealed record SimulationReport
{
    public required string Learning { get; init; }

    public required string Install { get; init; }

    public int Devices { get; init; }

    public int Processes { get; init; }

    public double TargetRate { get; init; }

    public double DurationSeconds { get; init; }

    public int Connected { get; init; }

    public int ConnectFailures { get; init; }

    public double ConnectSeconds { get; init; }

    public int DeltaBytes { get; init; }

    public int DeltasPublished { get; init; }

    public int PublishFailures { get; init; }

    public double PublishedPerSecond { get; init; }

    /// <summary>Deltas the aggregator stored during the run (registry), or null without --registry.</summary>
    public int? DeltasAccepted { get; init; }

    /// <summary>Accepted ÷ (last change of the accepted count − first publish), from the registry samples.</summary>
    public double? AcceptedPerSecond { get; init; }

    /// <summary>Per delta: its publish → the first install anywhere of the version that contains it.</summary>
    public double? DeltaToReleaseP50Seconds { get; init; }

    public double? DeltaToReleaseP99Seconds { get; init; }

    public int DeltasInInstalledVersions { get; init; }

    public int Releases { get; init; }

    public int ReleasesOnEveryDevice { get; init; }

    /// <summary>Over the releases that reached every device: first receipt of the release message → last install.</summary>
    public double? ReleaseToAllMedianSeconds { get; init; }

    public double? ReleaseToAllMaxSeconds { get; init; }

    public int DevicesOnNewest { get; init; }

    public string? Newest { get; init; }

    public int Refusals { get; init; }

    public string? LastRefusal { get; init; }

    public int FullInstalls { get; init; }

    public int VerifiedInstalls { get; init; }

    public double? AggregatorCpuSeconds { get; init; }

    public double? AggregatorCpuPercentOfOneCore { get; init; }

    public double? AggregatorRssPeakMiB { get; init; }

    /// <summary>Aggregator CPU per accepted delta, milliseconds (its whole CPU over the run: rounds and releases included).</summary>
    public double? AggregatorCpuMsPerDelta { get; init; }

    public double? BrokerCpuSeconds { get; init; }

    public int? BrokerOpenFilesPeak { get; init; }

    public string? BrokerOpenFilesLimit { get; init; }

    public int? BrokerConnectionsPeak { get; init; }

    public required string SimulatorOpenFilesLimit { get; init; }

    public required ReleaseSummary[] ReleaseDetails { get; init; }

    /// <summary>Merges the slices and reads the registry's versions for the delta → version mapping.</summary>
    public static SimulationReport Build(SimulationOptions options, IReadOnlyList<SliceReport> slices, FleetProbes probes, int? acceptedBefore)
    {
        var published = slices.SelectMany(s => s.Published).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var sendStart = slices.Min(s => s.SendStartMs);
        var sendEnd = slices.Max(s => s.SendEndMs);
        var traces = slices.SelectMany(s => s.Releases).GroupBy(t => t.Version, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (FirstSeen: g.Min(t => t.FirstSeenMs), Installs: g.SelectMany(t => t.InstallMs).ToArray()), StringComparer.Ordinal);
        var versions = probes.Registry?.ListVersions(options.Model) ?? [];
        var latencies = new List<double>();
        foreach (var v in versions)
        {
            if (!traces.TryGetValue(v.Version, out var trace) || trace.Installs.Length == 0) continue;
            var firstInstall = trace.Installs.Min();
            foreach (var id in v.DeltaIds)
                if (published.TryGetValue(id, out var at)) latencies.Add((firstInstall - at) / 1000.0);
        }
        latencies.Sort();
        var deltasPer = versions.ToDictionary(v => v.Version, v => v.DeltaIds.Count, StringComparer.Ordinal);
        var details = traces.OrderBy(t => t.Value.FirstSeen).Select(t => new ReleaseSummary(t.Key, deltasPer.GetValueOrDefault(t.Key), t.Value.Installs.Length,
            t.Value.Installs.Length == 0 ? null : (t.Value.Installs.Max() - t.Value.FirstSeen) / 1000.0)).ToArray();
        var complete = details.Where(d => d.DevicesInstalled >= options.Devices && d.FirstSeenToLastInstallSeconds is not null)
            .Select(d => d.FirstSeenToLastInstallSeconds!.Value).Order().ToArray();
        var installed = slices.SelectMany(s => s.Installed.Values).ToArray();
        var newest = details.LastOrDefault()?.Version;
        var (accepted, acceptedRate) = AcceptedRate(probes, acceptedBefore, sendStart);
        var sendSeconds = Math.Max(0.001, (sendEnd - sendStart) / 1000.0);
        return new SimulationReport
        {
            Learning = SimulationOptions.LearningNote,
            Install = options.InstallDescription,
            Devices = options.Devices,
            Processes = slices.Count,
            TargetRate = options.Rate,
            DurationSeconds = options.Duration,
            Connected = slices.Sum(s => s.Connected),
            ConnectFailures = slices.Sum(s => s.ConnectFailures),
            ConnectSeconds = slices.Max(s => s.ConnectSeconds),
            DeltaBytes = slices.Max(s => s.DeltaBytes),
            DeltasPublished = published.Count,
            PublishFailures = slices.Sum(s => s.PublishFailures),
            PublishedPerSecond = published.Count / sendSeconds,
            DeltasAccepted = accepted,
            AcceptedPerSecond = acceptedRate,
            DeltaToReleaseP50Seconds = Percentile(latencies, 0.50),
            DeltaToReleaseP99Seconds = Percentile(latencies, 0.99),
            DeltasInInstalledVersions = latencies.Count,
            Releases = details.Length,
            ReleasesOnEveryDevice = complete.Length,
            ReleaseToAllMedianSeconds = Percentile(complete, 0.5),
            ReleaseToAllMaxSeconds = complete.Length == 0 ? null : complete[^1],
            DevicesOnNewest = newest is null ? 0 : installed.Count(v => v == newest),
            Newest = newest,
            Refusals = slices.Sum(s => s.Refusals),
            LastRefusal = slices.Select(s => s.LastRefusal).LastOrDefault(r => r is not null),
            FullInstalls = slices.Sum(s => s.FullInstalls),
            VerifiedInstalls = slices.Sum(s => s.VerifiedInstalls),
            AggregatorCpuSeconds = probes.AggregatorCpuSeconds,
            AggregatorCpuPercentOfOneCore = probes.AggregatorCpuPercent,
            AggregatorRssPeakMiB = probes.AggregatorRssPeak / 1_048_576.0,
            AggregatorCpuMsPerDelta = probes.AggregatorCpuSeconds is { } cpu && accepted is > 0 ? cpu * 1000 / accepted.Value : null,
            BrokerCpuSeconds = probes.BrokerCpuSeconds,
            BrokerOpenFilesPeak = probes.BrokerFilesPeak,
            BrokerOpenFilesLimit = probes.BrokerFileLimit,
            BrokerConnectionsPeak = probes.BrokerConnectionsPeak,
            SimulatorOpenFilesLimit = new ProcessProbe(Environment.ProcessId).OpenFilesLimit() ?? "n/a",
            ReleaseDetails = details,
        };
    }

    /// <summary>The report as text lines for the console.</summary>
    public IEnumerable<string> Lines()
    {
        static string S(double? v, string format = "F2") => v?.ToString(format, CultureInfo.InvariantCulture) ?? "n/a";
        yield return Learning;
        yield return Install;
        yield return $"devices: {Connected}/{Devices} connected from {Processes} process(es) in {S(ConnectSeconds, "F1")} s ({ConnectFailures} failed attempts, retried); simulator open-files limit {SimulatorOpenFilesLimit}";
        yield return $"deltas: {DeltasPublished} published ({DeltaBytes} bytes each, {S(PublishedPerSecond, "F0")}/s for {DurationSeconds:0} s, target {TargetRate:0}/s, {PublishFailures} failed); "
            + $"accepted {DeltasAccepted?.ToString(CultureInfo.InvariantCulture) ?? "n/a (no --registry)"} at {S(AcceptedPerSecond, "F0")}/s";
        yield return $"delta → release (publish → first install of the version containing it): p50 {S(DeltaToReleaseP50Seconds)} s, p99 {S(DeltaToReleaseP99Seconds)} s over {DeltasInInstalledVersions} deltas";
        yield return $"releases: {Releases} seen, {ReleasesOnEveryDevice} reached all {Devices} devices; first receipt → last install: median {S(ReleaseToAllMedianSeconds)} s, max {S(ReleaseToAllMaxSeconds)} s; "
            + $"newest {Newest ?? "-"} on {DevicesOnNewest} devices; installs {FullInstalls} extracted+loaded, {VerifiedInstalls} verified only; refusals {Refusals}{(LastRefusal is null ? "" : $" (last: {Text.DisplayText.Truncate(LastRefusal, 200)})")}";
        yield return $"aggregator: CPU {S(AggregatorCpuSeconds, "F1")} s ({S(AggregatorCpuPercentOfOneCore, "F0")}% of one core), RSS peak {S(AggregatorRssPeakMiB, "F0")} MiB, {S(AggregatorCpuMsPerDelta)} ms CPU per accepted delta; "
            + $"broker: CPU {S(BrokerCpuSeconds, "F1")} s, open files peak {BrokerOpenFilesPeak?.ToString(CultureInfo.InvariantCulture) ?? "n/a"} (limit {BrokerOpenFilesLimit ?? "n/a"}), connections peak {BrokerConnectionsPeak?.ToString(CultureInfo.InvariantCulture) ?? "n/a"}";
    }

    private static (int? Accepted, double? PerSecond) AcceptedRate(FleetProbes probes, int? before, long sendStart)
    {
        if (probes.AcceptedNow() is not { } end || before is not { } start) return (null, null);
        // The first sample at the final count bounds when the last delta was stored (samples are a second apart).
        var reached = probes.Accepted.Where(s => s.Accepted >= end).Select(s => s.AtMs).DefaultIfEmpty(0).Min();
        var seconds = (reached - sendStart) / 1000.0;
        return (end - start, seconds > 0 ? (end - start) / seconds : null);
    }

    private static double? Percentile(IReadOnlyList<double> sorted, double p) =>
        sorted.Count == 0 ? null : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
}
