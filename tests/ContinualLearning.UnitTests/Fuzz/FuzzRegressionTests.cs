using System.Security.Cryptography;
using ContinualLearning.Bundle;
using ContinualLearning.Device.Serving;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;

namespace ContinualLearning.UnitTests.Fuzz;

/// <summary>
/// Inputs the fuzzer (fuzz/run.sh, docs/fuzzing.md) found crashing a parser, kept under fuzz/regressions/&lt;target&gt;/:
/// each must now be refused with the parser's own bad-input exception, never another one.
/// </summary>
public sealed class FuzzRegressionTests
{
    [Fact]
    public void Attack_sample_with_invalid_utf8_or_unpaired_surrogate_is_a_bad_request_not_a_crash()
    {
        // Utf8JsonReader checks a string only when it is read: a label, property name, feature name or sample id with
        // bytes that are not UTF-8, or a lone \ud800 escape, threw InvalidOperationException out of Parse — a 500 from
        // the HTTP API and an unhandled exception in the MQTT samples handler instead of a refusal.
        var files = Regressions("sample");
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var ex = Record.Exception(() => SampleRequest.Parse(File.ReadAllBytes(file)));
            Assert.True(ex is SampleRequestException { StatusCode: 400 }, $"{Path.GetFileName(file)}: {ex?.GetType().Name ?? "accepted"}");
        }
    }

    [Fact]
    public void Attack_safetensors_with_unpaired_surrogate_or_empty_name_is_refused_as_a_bad_bundle()
    {
        // A "\ud800" escape in a tensor name or metadata value threw InvalidOperationException out of SafeTensors.Read,
        // and a tensor named "" threw ArgumentException from NamedTensor: neither is the BundleException that the
        // device's release installer and `cl model import` catch, so a crafted head.safetensors escaped as an error.
        var files = Regressions("safetensors");
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var ex = Record.Exception(() => SafeTensors.Read(File.ReadAllBytes(file), Path.GetFileName(file)));
            Assert.True(ex is BundleException, $"{Path.GetFileName(file)}: {ex?.GetType().Name ?? "accepted"}");
        }
    }

    [Fact]
    public void Attack_bundle_container_with_broken_tar_is_refused_as_invalid_data()
    {
        // A truncated header (EndOfStreamException), a garbled numeric field (OverflowException), a NUL in a name
        // (ArgumentException), a name ending in '/' (UnauthorizedAccessException) and a file where another entry needs a
        // directory (IOException) escaped BundlePackager.Extract; OverflowException and UnauthorizedAccessException are
        // not among what the device's release installer catches, so its install task died instead of refusing.
        var files = Regressions("bundle");
        Assert.NotEmpty(files);
        var target = Directory.CreateTempSubdirectory("cl-fuzz-bundle-").FullName;
        try
        {
            foreach (var file in files)
            {
                var into = Path.Combine(target, Path.GetFileNameWithoutExtension(file));
                var ex = Record.Exception(() => BundlePackager.Extract(File.ReadAllBytes(file), into));
                Assert.True(ex is InvalidDataException, $"{Path.GetFileName(file)}: {ex?.GetType().Name ?? "accepted"}");
            }
        }
        finally
        {
            Directory.Delete(target, recursive: true);
        }
    }

    [Fact]
    public void Attack_bundle_container_declaring_a_huge_metadata_block_is_refused_before_allocating_it()
    {
        // A PAX header in a 4 KB container declared a 671 MB attribute block: TarReader rented a buffer that size
        // before finding the bytes missing (OutOfMemoryException under the fuzz runs' 512 MiB heap limit).
        // pax-block-size-lie-3/4: the same lie in a header without the "ustar" magic, which TarReader still reads as PAX.
        var target = Directory.CreateTempSubdirectory("cl-fuzz-pax-").FullName;
        try
        {
            foreach (var file in Regressions("bundle").Where(f => Path.GetFileName(f).StartsWith("pax-block-size-lie", StringComparison.Ordinal)))
            {
                var container = File.ReadAllBytes(file);
                var before = GC.GetAllocatedBytesForCurrentThread();
                Assert.Throws<InvalidDataException>(() => BundlePackager.Extract(container, Path.Combine(target, Path.GetFileNameWithoutExtension(file))));
                var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                Assert.True(allocated < 16 << 20, $"{Path.GetFileName(file)}: extracting a {container.Length}-byte container allocated {allocated} bytes");
            }
        }
        finally
        {
            Directory.Delete(target, recursive: true);
        }
    }

    [Fact]
    public void Attack_fleet_message_with_null_required_field_is_refused()
    {
        // `required` is met by an explicit null: {"deviceId":null} parsed into a DeviceStatus whose DeviceId was null,
        // a NullReferenceException waiting in whichever handler read it first (and a release with "chunkSha256":null
        // failed to serialise back).
        var files = Regressions("fleetjson");
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var json = File.ReadAllBytes(file);
            var name = Path.GetFileName(file);
            Action read = name.Split('-')[0] switch
            {
                "status" => () => FleetJson.ReadStatus(json),
                "telemetry" => () => FleetJson.ReadTelemetry(json),
                "command" => () => FleetJson.ReadCommand(json),
                "reply" => () => FleetJson.ReadCommandReply(json),
                "release" => () => FleetJson.ReadRelease(json),
                _ => throw new InvalidOperationException($"{name}: name it <message kind>-<what>.json"),
            };
            var ex = Record.Exception(read);
            Assert.True(ex is FleetMessageException, $"{name}: {ex?.GetType().Name ?? "accepted"}");
        }
    }

    [Fact]
    public void A_bundle_whose_file_data_looks_like_a_metadata_header_still_extracts()
    {
        // The size check above must only read real headers: weights whose bytes put 'x' at a block's type offset
        // and a high byte at its size offset are data, not a PAX header with a base-256 size.
        var data = new byte[4096];
        for (var i = 0; i < data.Length; i++) data[i] = (i % 512) switch { 156 => (byte)'x', 124 => 0x80, _ => (byte)'7' };
        var source = Directory.CreateTempSubdirectory("cl-fuzz-src-").FullName;
        var target = Directory.CreateTempSubdirectory("cl-fuzz-dst-").FullName;
        try
        {
            File.WriteAllBytes(Path.Combine(source, "head.safetensors"), data);
            BundlePackager.Extract(BundlePackager.Pack(source), target);
            Assert.Equal(data, File.ReadAllBytes(Path.Combine(target, "head.safetensors")));
        }
        finally
        {
            Directory.Delete(source, recursive: true);
            Directory.Delete(target, recursive: true);
        }
    }

    [Fact]
    public void Attack_release_whose_bundle_size_wraps_the_chunk_count_is_refused()
    {
        // 2^32 + 1 bytes in 1-byte chunks is 2^32 + 1 chunks; cast to int that was 1, so a release listing one chunk
        // passed the structure check and, once signed, made the assembler allocate new byte[2^32 + 1] after one byte.
        using var key = ReleaseKeys.Generate();
        var release = new Release
        {
            ModelName = "m",
            Version = "1.0.0",
            Cohort = "all",
            BundleSha256 = new string('0', 64),
            BundleSize = (1L << 32) + 1,
            ChunkSize = 1,
            ChunkCount = 1,
            ChunkSha256 = [Convert.ToHexStringLower(SHA256.HashData([7]))],
        };
        var structure = ReleaseSigner.CheckStructure(release);
        Assert.False(structure.Ok);
        Assert.Contains("4294967297", structure.Reason, StringComparison.Ordinal);
        Assert.False(ReleaseSigner.Verify(ReleaseSigner.Sign(release, key), key).Ok);
    }

    internal static string[] Regressions(string target)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ContinualLearning.sln")))
                return Directory.GetFiles(Path.Combine(dir.FullName, "fuzz", "regressions", target)).Order(StringComparer.Ordinal).ToArray();
        }
        throw new InvalidOperationException($"ContinualLearning.sln not found above {AppContext.BaseDirectory}; run the tests from the repository.");
    }
}
