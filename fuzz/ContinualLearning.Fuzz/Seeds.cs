using System.Buffers.Binary;
using System.Text;
using ContinualLearning.Bundle;
using ContinualLearning.Deltas;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Fuzz;

/// <summary>
/// The seed corpus: small valid inputs made by the encoders themselves, plus edge cases (empty tensors, sparse
/// and quantised values, unicode escapes, optional fields absent). Regenerate after a format change with
/// <c>ContinualLearning.Fuzz seed fuzz/corpus</c>.
/// </summary>
internal static class Seeds
{
    private static readonly DateTimeOffset Time = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static void WriteAll(string root)
    {
        Write(root, "delta", DeltaSeeds());
        Write(root, "manifest", ManifestSeeds());
        Write(root, "safetensors", SafeTensorsSeeds());
        Write(root, "bundle", [("bundle.tar", FuzzModel.Container)]);
        Write(root, "chunk", ChunkSeeds());
        Write(root, "fleetjson", FleetJsonSeeds());
        Write(root, "sample", SampleSeeds());
        Write(root, "wav", WavSeeds());
    }

    private static void Write(string root, string target, IEnumerable<(string Name, byte[] Bytes)> seeds)
    {
        var directory = Path.Combine(root, target);
        Directory.CreateDirectory(directory);
        foreach (var (name, bytes) in seeds) File.WriteAllBytes(Path.Combine(directory, name), bytes);
    }

    private static IEnumerable<(string, byte[])> DeltaSeeds()
    {
        var weights = HeadInitializer.Initialize(FuzzModel.Head, seed: 2);
        var dense = weights.Select(w => new TensorDelta(w.Name, w.Shape, DeltaEncoding.Float32, 1f, null, w.Data)).ToArray();
        yield return ("dense-fp32.cld1", DeltaCodec.Encode(Delta(dense, new Dictionary<string, double> { ["accuracy"] = 0.9, ["loss"] = 0.3 })));
        var int8 = weights.Select(w => new TensorDelta(w.Name, w.Shape, DeltaEncoding.Int8, 0.01f, null, w.Data.Select(v => MathF.Round(v * 100) / 100).ToArray())).ToArray();
        // A cluster report in the header's metrics, without and with the per-cluster standard errors.
        var report = new ClusterReport(1, new Dictionary<int, double> { [0] = 0.61, [1] = 0.22 }, 0.2, 96);
        yield return ("cluster-report.cld1", DeltaCodec.Encode(Delta(dense, Metrics(report))));
        yield return ("cluster-report-se.cld1", DeltaCodec.Encode(Delta(dense, Metrics(report with { StandardErrors = new Dictionary<int, double> { [0] = 0.04, [1] = 0 } }))));
        yield return ("dense-int8.cld1", DeltaCodec.Encode(Delta(int8, null)));
        var sparse = weights.Select(w => new TensorDelta(w.Name, w.Shape, DeltaEncoding.Float16, 0.5f, [0, 1], [0.5f, -1f])).ToArray();
        yield return ("sparse-fp16.cld1", DeltaCodec.Encode(Delta(sparse, null)));
        var empty = weights.Select(w => new TensorDelta(w.Name, w.Shape, DeltaEncoding.Int8, 0f, [], [])).ToArray();
        yield return ("sparse-empty.cld1", DeltaCodec.Encode(Delta(empty, null)));
        yield return ("no-tensors.cld1", DeltaCodec.Encode(Delta([], null)));
        yield return ("scalar.cld1", DeltaCodec.Encode(Delta([new TensorDelta("s", [], DeltaEncoding.Float32, 1f, null, [1f])], null)));
        // A class-incremental device: the labels section, with the release's labels and with one class more (its output rows grown).
        yield return ("labels.cld1", DeltaCodec.Encode(Delta(dense, null) with { Header = Delta(dense, null).Header with { Labels = ["DOWN", "UP"] } }));
        var grown = dense.Select(t => t.Name == "2.weight" ? new TensorDelta(t.Name, [3, 8], DeltaEncoding.Float32, 1f, null, [.. t.Values, .. t.Values[..8]])
            : t.Name == "2.bias" ? new TensorDelta(t.Name, [3], DeltaEncoding.Float32, 1f, null, [.. t.Values, 0.5f]) : t).ToArray();
        yield return ("labels-grown.cld1", DeltaCodec.Encode(Delta(grown, null) with { Header = Delta(grown, null).Header with { Labels = ["UP", "hello", "DOWN"] } }));
    }

    private static Dictionary<string, double> Metrics(ClusterReport report)
    {
        var metrics = new Dictionary<string, double> { ["loss"] = 0.3 };
        report.WriteTo(metrics);
        return metrics;
    }

    private static WeightDelta Delta(TensorDelta[] tensors, Dictionary<string, double>? metrics) =>
        new(new DeltaHeader(FuzzModel.Name, FuzzModel.Version, "dev-1", new Guid("0f8fad5b-d9cb-469f-a165-70867728950e"), 100, metrics ?? [], Time), tensors);

    private static IEnumerable<(string, byte[])> ManifestSeeds()
    {
        var m = FuzzModel.Manifest with { Files = new SortedDictionary<string, string>(StringComparer.Ordinal) { [ModelManifest.HeadFileName] = new string('a', 64) } };
        yield return ("classification.json", m.ToJsonBytes());
        yield return ("signed-compact.json", (m with { ParentVersion = "0.9.0-rc.1", Signature = "c2lnbmF0dXJl" }).CanonicalBytesForSigning());
        var regression = m with
        {
            Task = TaskSpec.Regression("y"),
            Head = new HeadSpec([16, 1], LossKind.MeanSquaredError, Activation.None),
            InputSchema = new InputSchema([new FeatureSpec("x\u00e9", 0f, 1f)], EmbeddingSize: 16),
            Training = new TrainingDefaults { Options = new TrainingOptions { Optimizer = OptimizerKind.Adam } },
        };
        yield return ("regression-embedding.json", regression.ToJsonBytes());
    }

    private static IEnumerable<(string, byte[])> SafeTensorsSeeds()
    {
        var weights = HeadInitializer.Initialize(FuzzModel.Head, seed: 3);
        yield return ("head.safetensors", SafeTensors.Write(weights));
        yield return ("metadata.safetensors", SafeTensors.Write([new NamedTensor("w\u00e9", [2], [1f, -2f])], new Dictionary<string, string> { ["format"] = "pt", ["k\"ey"] = "v\\alue" }));
        yield return ("empty.safetensors", SafeTensors.Write([]));
        yield return ("f16-bf16.safetensors", Raw("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[4,8]},\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}}",
            [0x00, 0x3C, 0x00, 0xC0, 0x80, 0x3F, 0x00, 0x40]));
    }

    private static byte[] Raw(string header, byte[] buffer)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + buffer.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        buffer.CopyTo(bytes, 8 + json.Length);
        return bytes;
    }

    private static IEnumerable<(string, byte[])> ChunkSeeds()
    {
        var chunks = BundlePackager.Split(FuzzModel.Container, FuzzModel.Name, FuzzModel.Version, FuzzModel.ChunkSize).Select(c => c.Encode()).ToArray();
        yield return ("all-chunks.bin", chunks.SelectMany(c => c).ToArray());
        yield return ("all-chunks-reversed.bin", chunks.Reverse().SelectMany(c => c).ToArray());
        yield return ("first-chunk.bin", chunks[0]);
        yield return ("foreign-chunk.bin", new BundleChunk("other", "2.0.0", 0, 1, [1, 2, 3]).Encode());
    }

    private static IEnumerable<(string, byte[])> FleetJsonSeeds()
    {
        yield return ("status.json", FleetJson.Serialize(new DeviceStatus
        {
            DeviceId = "dev-1", State = DeviceState.Online, Timestamp = Time, ModelName = FuzzModel.Name, ModelVersion = FuzzModel.Version,
            BaseVersion = FuzzModel.Version, Engine = "managed", Cohort = "canary", SamplesSeen = 10, SamplesStored = 5, TrainingRuns = 1, DeltasSent = 1,
        }));
        yield return ("telemetry.json", FleetJson.Serialize(new Telemetry
        {
            DeviceId = "dev-1", Timestamp = Time, ModelVersion = FuzzModel.Version, Accuracy = 0.93, AccuracyWindow = 200, Drift = DriftState.Warning,
            DriftDetector = "adwin", CpuPercent = 12.5, MemoryBytes = 1 << 20, StoreBytes = 4096, TrainSeconds = 0.25, Extra = new Dictionary<string, double> { ["x"] = 1e-3 },
        }));
        yield return ("command.json", FleetJson.Serialize(new Command
        {
            CommandId = "c-1", Kind = CommandKind.SetConfig, Args = new Dictionary<string, string> { ["key"] = "Training.BatchSize", ["value"] = "32" }, IssuedAt = Time, ExpiresAt = Time.AddMinutes(5),
        }));
        yield return ("reply.json", FleetJson.Serialize(new CommandReply
        {
            CommandId = "c-1", DeviceId = "dev-1", Ok = false, Message = "refused \u00e9", Data = new Dictionary<string, string> { ["reason"] = "paused" }, Timestamp = Time,
        }));
        yield return ("release.json", FleetJson.Serialize(FuzzModel.SignedRelease(ReleaseKeys.Generate()) with { Signature = "AAAA" }));
        yield return ("minimal-status.json", "{\"v\":1,\"deviceId\":\"d\",\"state\":\"offline\"}"u8.ToArray());
    }

    private static IEnumerable<(string, byte[])> SampleSeeds()
    {
        yield return ("array.json", "{\"features\":[1.5,-2,3e2]}"u8.ToArray());
        yield return ("named.json", "{\"features\":{\"f1\":1,\"f2\":2.5,\"f3\":-0.0}}"u8.ToArray());
        yield return ("labelled.json", "{\"features\":[1,2,3],\"label\":\"UP\"}"u8.ToArray());
        yield return ("label-index.json", "{\"features\":[1,2,3],\"label\":1,\"extra\":{\"a\":[null,true]}}"u8.ToArray());
        yield return ("sample-id.json", "{\"sampleId\":\"123\",\"label\":\"D\\u004fWN\"}"u8.ToArray());
        yield return ("sample-id-number.json", "{\"sampleId\":9007199254740993,\"label\":\"UP\"}"u8.ToArray());
    }

    // Small clips in the shapes real writers produce: canonical (sox, WavWriter), extensible, metadata chunks around
    // the data with odd sizes, a float file and a stereo one (refused, but their headers are what a mutation starts from),
    // espeak-ng's streamed output.
    private static IEnumerable<(string, byte[])> WavSeeds()
    {
        short[] pcm = [0, 1, -1, short.MaxValue, short.MinValue, 1000, -1000, 7];
        var canonical = ContinualLearning.Audio.WavWriter.Pcm16Mono(pcm, 16_000);
        yield return ("canonical.wav", canonical);
        var fmt = canonical.AsSpan(12, 24).ToArray();
        var data = canonical.AsSpan(36).ToArray();
        var extensible = new byte[48];
        fmt.CopyTo(extensible, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(extensible.AsSpan(4), 40);
        BinaryPrimitives.WriteUInt16LittleEndian(extensible.AsSpan(8), 0xFFFE);
        BinaryPrimitives.WriteUInt16LittleEndian(extensible.AsSpan(24), 22);
        BinaryPrimitives.WriteUInt16LittleEndian(extensible.AsSpan(26), 16);
        BinaryPrimitives.WriteUInt32LittleEndian(extensible.AsSpan(28), 4);
        new byte[] { 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71 }.CopyTo(extensible, 32);
        yield return ("extensible.wav", Riff(extensible, data));
        yield return ("list-odd-chunks.wav", Riff(RiffChunk("LIST", "INFOISFT\u0003\0\0\0sox"u8.ToArray()), fmt, RiffChunk("fact", [8, 0, 0, 0]), data, RiffChunk("id3 ", [1, 2, 3])));
        var stereoFloat = (byte[])fmt.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(stereoFloat.AsSpan(8), 3);
        BinaryPrimitives.WriteUInt16LittleEndian(stereoFloat.AsSpan(10), 2);
        yield return ("stereo-float.wav", Riff(stereoFloat, data));
        // espeak-ng --stdout: 22,050 Hz with placeholder sizes (the streamed reader's input; the strict one refuses it).
        var streamed = ContinualLearning.Audio.WavWriter.Pcm16Mono(pcm, 22_050);
        BinaryPrimitives.WriteUInt32LittleEndian(streamed.AsSpan(4), 0x7FFF_F024);
        BinaryPrimitives.WriteUInt32LittleEndian(streamed.AsSpan(40), 0x7FFF_F000);
        yield return ("espeak-streamed.wav", streamed);
    }

    private static byte[] RiffChunk(string id, byte[] body)
    {
        var chunk = new byte[8 + body.Length + (body.Length & 1)];
        Encoding.ASCII.GetBytes(id).CopyTo(chunk, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(chunk.AsSpan(4), (uint)body.Length);
        body.CopyTo(chunk, 8);
        return chunk;
    }

    private static byte[] Riff(params byte[][] chunks)
    {
        var body = chunks.SelectMany(c => c).ToArray();
        var wav = new byte[12 + body.Length];
        "RIFF"u8.CopyTo(wav);
        BinaryPrimitives.WriteUInt32LittleEndian(wav.AsSpan(4), (uint)(wav.Length - 8));
        "WAVE"u8.CopyTo(wav.AsSpan(8));
        body.CopyTo(wav, 12);
        return wav;
    }
}
