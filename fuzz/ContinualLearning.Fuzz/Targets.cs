using ContinualLearning.Bundle;
using ContinualLearning.Deltas;
using ContinualLearning.Features;

namespace ContinualLearning.Fuzz;

/// <summary>
/// One entry point per fuzz target. Each catches exactly the exception its parser documents for bad input; any
/// other exception (IndexOutOfRange, NullReference, Overflow, OutOfMemory from a lying length, an invariant
/// below failing) escapes and afl-fuzz records the input as a crash. After a successful parse each target does
/// what the first consumer of the result does, so a parser that accepts something its consumer cannot handle
/// is found too.
/// </summary>
internal static class Targets
{
    public static IReadOnlyDictionary<string, Action<byte[]>> All { get; } = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["delta"] = Delta,
        ["manifest"] = Manifest,
        ["safetensors"] = SafeTensorsFile,
        ["bundle"] = ReleaseTargets.Bundle,
        ["chunk"] = ReleaseTargets.Chunk,
        ["fleetjson"] = MessageTargets.FleetJsonMessages,
        ["sample"] = MessageTargets.Sample,
        ["wav"] = AudioTargets.Wav,
    };

    /// <summary>CLD1 delta payloads (the aggregator's input from every device), with the checksum trailer resealed.</summary>
    private static void Delta(byte[] input)
    {
        var payload = Reseal.Delta(input);
        DecodeDelta(payload, null);
        DecodeDelta(payload, ForTheModel.Options);
    }

    // Instrumented code may only run inside Fuzzer.OutOfProcess.Run, once sharpfuzz has mapped afl's coverage
    // map (before that its pointer is null and the first branch faults): so nothing instrumented runs in a static
    // initialiser of Targets, which Program touches first. This holder initialises on the first delta input.
    private static class ForTheModel
    {
        public static readonly DeltaDecodeOptions Options = new() { ExpectedTensors = FuzzModel.Head.Parameters().ToArray() };
    }

    private static void DecodeDelta(byte[] payload, DeltaDecodeOptions? options)
    {
        WeightDelta delta;
        try
        {
            delta = DeltaCodec.Decode(payload, options);
        }
        catch (DeltaFormatException)
        {
            return;
        }
        // The aggregator's validator and round: norm and counts of any decoded delta, dense tensors once the shapes are the model's.
        _ = ContinualLearning.Deltas.Delta.L2Norm(delta);
        // The clustering step's read of the header's cluster.* metrics (with or without standard errors).
        _ = ClusterReport.TryRead(delta.Header.Metrics, out _, out _);
        _ = delta.ValueCount + delta.ElementCount;
        if (options?.ExpectedTensors is not null) _ = delta.ToDense();
    }

    /// <summary>manifest.json as a device or the aggregator reads it from a bundle.</summary>
    private static void Manifest(byte[] input)
    {
        ModelManifest manifest;
        try
        {
            manifest = ModelManifest.Parse(input);
        }
        catch (BundleException)
        {
            return;
        }
        // What ModelBundle builds from a valid manifest.
        _ = new FeaturePipeline(manifest.InputSchema);
        if (manifest.Task.Kind == TaskKind.Classification) _ = new LabelMap(manifest.Task.LabelNames);
        _ = manifest.Head.Parameters().ToArray();
        // The aggregator re-saves and signs manifests it read: a valid manifest must survive its own serialisation.
        var again = ModelManifest.Parse(manifest.ToJsonBytes());
        if (!again.CanonicalBytesForSigning().AsSpan().SequenceEqual(manifest.CanonicalBytesForSigning()))
            throw new InvalidOperationException("Fuzz invariant: a manifest re-read from its own JSON signs differently.");
    }

    /// <summary>head.safetensors (also what `cl model import` reads from a PyTorch user).</summary>
    private static void SafeTensorsFile(byte[] input)
    {
        SafeTensorsContent content;
        try
        {
            content = SafeTensors.Read(input);
        }
        catch (BundleException)
        {
            return;
        }
        // Imported weights are written back out into a bundle: whatever Read accepts, Write must reproduce.
        var back = SafeTensors.Read(SafeTensors.Write(content.Tensors, content.Metadata));
        if (back.Tensors.Count != content.Tensors.Count || back.Metadata.Count != content.Metadata.Count)
            throw new InvalidOperationException("Fuzz invariant: safetensors write/read changed the tensor or metadata count.");
        var byName = back.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        foreach (var t in content.Tensors)
        {
            if (!byName.TryGetValue(t.Name, out var b) || !b.Shape.AsSpan().SequenceEqual(t.Shape)
                || !System.Runtime.InteropServices.MemoryMarshal.AsBytes(b.Data.AsSpan()).SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.Data.AsSpan())))
                throw new InvalidOperationException("Fuzz invariant: safetensors write/read changed a tensor.");
        }
    }
}
