using System.Globalization;
using ContinualLearning.Bundle;
using ContinualLearning.Deltas;
using ContinualLearning.IO;
using ContinualLearning.Tensors;

namespace ContinualLearning.Device.Agent;

/// <summary>
/// The device's delta bookkeeping for one global base version, persisted (safetensors, written atomically) next to
/// the model store so it survives restarts:
/// <list type="bullet">
/// <item><b>reported</b>: base + everything already handed to the outbox (the weights the aggregator will have seen);</item>
/// <item><b>residual</b>: the <see cref="ErrorFeedback"/> part top-k and quantisation have not sent yet.</item>
/// </list>
/// Each promotion sends the increment champion − reported (through error feedback), so the deltas a device sends
/// for one base add up to champion − base: several promotions between two global releases never count twice.
/// A new base (release) restarts <b>reported</b> from the new base but keeps the <b>residual</b>: it is learning the
/// aggregator has not received yet, and it stays a valid update direction on the next global version (error feedback
/// across rounds, as in EF-SGD). Dropping it on every release would, with top-k 2 % and releases arriving between
/// most promotions, deliver only the top 2 % of each device's learning and discard the rest.
/// </summary>
public sealed class ErrorFeedbackState
{
    private const string ResidualPrefix = "residual/";
    private const string ReportedPrefix = "reported/";
    private readonly string _path;
    private readonly TimeProvider _time;
    private ErrorFeedback _feedback;
    private IReadOnlyList<NamedTensor>? _reported;

    private ErrorFeedbackState(string path, TimeProvider time, string? baseVersion, ErrorFeedback feedback, IReadOnlyList<NamedTensor>? reported)
    {
        _path = path;
        _time = time;
        BaseVersion = baseVersion;
        _feedback = feedback;
        _reported = reported;
    }

    /// <summary>The global version the state belongs to; null before the first promotion.</summary>
    public string? BaseVersion { get; private set; }

    /// <summary>L2 norm of what has not been sent yet.</summary>
    public double ResidualNorm => _feedback.ResidualNorm;

    /// <summary>Loads the saved state, or starts empty when there is none (or it is unreadable: logged by the caller).</summary>
    public static ErrorFeedbackState Load(string path, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        time ??= TimeProvider.System;
        if (!File.Exists(path)) return new ErrorFeedbackState(path, time, null, new ErrorFeedback(), null);
        var content = SafeTensors.ReadFile(path);
        content.Metadata.TryGetValue("baseVersion", out var baseVersion);
        var residual = content.Tensors.Where(t => t.Name.StartsWith(ResidualPrefix, StringComparison.Ordinal))
            .Select(t => new NamedTensor(t.Name[ResidualPrefix.Length..], t.Shape, t.Data)).ToArray();
        var reported = content.Tensors.Where(t => t.Name.StartsWith(ReportedPrefix, StringComparison.Ordinal))
            .Select(t => new NamedTensor(t.Name[ReportedPrefix.Length..], t.Shape, t.Data)).ToArray();
        return new ErrorFeedbackState(path, time, baseVersion, new ErrorFeedback(residual), reported.Length > 0 ? reported : null);
    }

    /// <summary>
    /// Compresses the increment since the last report for a promotion and records it as reported. The caller must
    /// <see cref="Save"/> after the delta is durably queued.
    /// </summary>
    public IReadOnlyList<TensorDelta> Next(string baseVersion, IReadOnlyList<NamedTensor> baseWeights, IReadOnlyList<NamedTensor> champion, DeltaCompressionOptions options)
    {
        if (BaseVersion != baseVersion || _reported is null)
        {
            // First promotion on this base (or state from an older base): start from the base itself. The residual
            // carries over unless the architecture changed (it would not fit the new tensors).
            if (!ResidualFits(baseWeights)) _feedback = new ErrorFeedback();
            _reported = baseWeights.Select(t => t.Clone()).ToArray();
            BaseVersion = baseVersion;
        }
        else if (!Fits(_reported, champion))
        {
            // The head grew (or shrank back) a class on the device since the last report. Old rows keep what was
            // reported; a new class's rows start from the aligned base (zeros), so its whole row is sent once.
            _reported = ResizeRows(_reported, baseWeights);
            if (!ResidualFits(baseWeights)) _feedback = new ErrorFeedback();
        }
        var increment = Delta.Compute(champion, _reported);
        var sent = _feedback.Compress(increment, options);
        _reported = champion.Select(t => t.Clone()).ToArray();
        return sent;
    }

    /// <summary>
    /// A new global release was installed: the next promotion's increment is measured from it, while the unsent
    /// residual is kept (see the class remarks).
    /// </summary>
    public void Rebase(string? baseVersion)
    {
        _reported = null;
        BaseVersion = baseVersion;
        Save();
    }

    /// <summary>Forgets everything, residual included (wipe-data: the residual is made from the deleted samples).</summary>
    public void Reset(string? baseVersion = null)
    {
        _feedback = new ErrorFeedback();
        _reported = null;
        BaseVersion = baseVersion;
        Save();
    }

    private static bool Fits(IReadOnlyList<NamedTensor> a, IReadOnlyList<NamedTensor> b) =>
        a.Count == b.Count && a.Zip(b).All(p => p.First.Name == p.Second.Name && p.First.Shape.AsSpan().SequenceEqual(p.Second.Shape));

    // Each tensor takes the aligned base's shape: the leading rows (output classes) it shares with the last report keep
    // the reported values, the rest come from the aligned base.
    private static NamedTensor[] ResizeRows(IReadOnlyList<NamedTensor> reported, IReadOnlyList<NamedTensor> alignedBase)
    {
        var byName = reported.ToDictionary(t => t.Name, StringComparer.Ordinal);
        return [.. alignedBase.Select(b =>
        {
            var copy = b.Clone();
            if (!byName.TryGetValue(b.Name, out var r) || r.Shape.Length != b.Shape.Length || !r.Shape.AsSpan(1).SequenceEqual(b.Shape.AsSpan(1))) return copy;
            Array.Copy(r.Data, copy.Data, Math.Min(r.Count, copy.Count));
            return copy;
        })];
    }

    private bool ResidualFits(IReadOnlyList<NamedTensor> weights)
    {
        var byName = weights.ToDictionary(t => t.Name, StringComparer.Ordinal);
        return _feedback.Residuals.All(r => byName.TryGetValue(r.Name, out var w) && w.Shape.AsSpan().SequenceEqual(r.Shape));
    }

    public void Save()
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(_path))!;
        Directory.CreateDirectory(dir);
        var tensors = _feedback.Residuals.Select(t => new NamedTensor(ResidualPrefix + t.Name, t.Shape, t.Data))
            .Concat((_reported ?? []).Select(t => new NamedTensor(ReportedPrefix + t.Name, t.Shape, t.Data)))
            .ToArray();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["baseVersion"] = BaseVersion ?? "",
            ["savedAt"] = _time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture),
        };
        AtomicFile.Write(_path, SafeTensors.Write(tensors, metadata));
    }
}
