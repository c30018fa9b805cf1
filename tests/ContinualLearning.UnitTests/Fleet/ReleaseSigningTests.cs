using System.Security.Cryptography;
using System.Text;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;

namespace ContinualLearning.UnitTests.Fleet;

public sealed class ReleaseSigningTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-signing-").FullName;
    private readonly ECDsa _key = ReleaseKeys.Generate();

    public void Dispose()
    {
        _key.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private (byte[] Container, Release Signed, IReadOnlyList<BundleChunk> Chunks) MakeRelease(int chunkSize = 1000)
    {
        var bundle = Path.Combine(_dir, "bundle");
        Directory.CreateDirectory(bundle);
        File.WriteAllText(Path.Combine(bundle, "manifest.json"), """{"name":"elec2","version":7}""");
        var weights = new byte[5000];
        new Random(4).NextBytes(weights);
        File.WriteAllBytes(Path.Combine(bundle, "head.safetensors"), weights);
        var container = BundlePackager.Pack(bundle);
        var release = BundlePackager.CreateRelease(container, "elec2", "1.7.0", "canary", chunkSize, parentVersion: "1.6.0");
        return (container, ReleaseSigner.Sign(release, _key), BundlePackager.Split(container, "elec2", "1.7.0", chunkSize));
    }

    [Fact]
    public void Signed_release_verifies_after_a_json_round_trip_with_keys_from_pem_files()
    {
        var (_, signed, _) = MakeRelease();
        var priv = Path.Combine(_dir, "release.key");
        var pub = Path.Combine(_dir, "release.pub");
        ReleaseKeys.Save(_key, priv, pub);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(priv));
        Assert.StartsWith("-----BEGIN PUBLIC KEY-----", File.ReadAllText(pub));
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(priv));

        using var publicKey = ReleaseKeys.LoadPublic(pub);
        var wire = FleetJson.ReadRelease(FleetJson.Serialize(signed));
        var result = ReleaseSigner.Verify(wire, publicKey);
        Assert.True(result.Ok, result.Reason);

        using var reloaded = ReleaseKeys.LoadPrivate(priv);
        Assert.True(ReleaseSigner.Verify(ReleaseSigner.Sign(wire, reloaded), publicKey).Ok);
    }

    [Fact]
    public void One_changed_byte_in_the_signature_is_refused()
    {
        var (_, signed, _) = MakeRelease();
        var sig = Convert.FromBase64String(signed.Signature!);
        sig[10] ^= 0x01;
        var result = ReleaseSigner.Verify(signed with { Signature = Convert.ToBase64String(sig) }, _key);
        Assert.False(result.Ok);
        Assert.Contains("signature does not match", result.Reason);
    }

    [Fact]
    public void One_changed_byte_in_the_manifest_is_refused()
    {
        var (_, signed, _) = MakeRelease();
        // Change one character of the serialized JSON (cohort "canary" → "canarz"), as an attacker on the wire would.
        var json = Encoding.UTF8.GetString(FleetJson.Serialize(signed)).Replace("\"canary\"", "\"canarz\"");
        var tampered = FleetJson.ReadRelease(Encoding.UTF8.GetBytes(json));
        var result = ReleaseSigner.Verify(tampered, _key);
        Assert.False(result.Ok);
        Assert.Contains("v1.7.0", result.Reason);

        var chunkHash = signed.ChunkSha256.ToArray();
        chunkHash[0] = (chunkHash[0][0] == 'a' ? "b" : "a") + chunkHash[0][1..];
        Assert.False(ReleaseSigner.Verify(signed with { ChunkSha256 = chunkHash }, _key).Ok);
        Assert.False(ReleaseSigner.Verify(signed with { Version = "1.8.0" }, _key).Ok);
    }

    [Fact]
    public void Release_from_another_key_or_unsigned_is_refused_with_reason()
    {
        var (_, signed, _) = MakeRelease();
        using var other = ReleaseKeys.Generate();
        Assert.Contains("trusts key", ReleaseSigner.Verify(signed, other).Reason);
        Assert.Contains("unsigned", ReleaseSigner.Verify(signed with { Signature = null }, _key).Reason);
        var ex = Assert.Throws<BundleVerificationException>(() => new BundleAssembler(signed, other, Path.Combine(_dir, "state")));
        Assert.Contains("trusts key", ex.Message);
    }

    [Fact]
    public void Chunk_with_one_changed_byte_is_refused_and_the_bundle_still_completes_from_a_good_copy()
    {
        var (container, signed, chunks) = MakeRelease();
        var assembler = new BundleAssembler(signed, _key, Path.Combine(_dir, "state"));
        var bad = chunks[2] with { Data = (byte[])chunks[2].Data.Clone() };
        bad.Data[17] ^= 0xFF;
        var refused = assembler.Accept(bad);
        Assert.Equal(ChunkStatus.Rejected, refused.Status);
        Assert.Contains("does not match the signed release", refused.Reason);

        // Random order, with a duplicate.
        foreach (var c in chunks.OrderBy(c => (c.Index * 7919) % 13)) Assert.Equal(ChunkStatus.Accepted, assembler.Accept(c).Status);
        Assert.Equal(ChunkStatus.Duplicate, assembler.Accept(chunks[0]).Status);
        Assert.Equal(container, assembler.TryAssemble());
    }

    [Fact]
    public void A_chunk_message_off_the_wire_is_decoded_refused_when_unreadable_and_passed_over_when_of_another_version()
    {
        var (_, signed, chunks) = MakeRelease();
        var assembler = new BundleAssembler(signed, _key, Path.Combine(_dir, "state"));
        var wire = chunks[0].Encode();

        var cut = assembler.AcceptMessage(wire.AsSpan(0, wire.Length - 1));
        Assert.Equal(ChunkStatus.Unreadable, cut.Status);
        Assert.StartsWith("chunk unreadable: ", cut.Reason, StringComparison.Ordinal);
        Assert.Equal(ChunkStatus.OtherVersion, assembler.AcceptMessage((chunks[1] with { Version = "0.9.0" }).Encode()).Status);
        Assert.Equal(ChunkStatus.Accepted, assembler.AcceptMessage(wire).Status);
        Assert.Equal(ChunkStatus.Duplicate, assembler.AcceptMessage(wire).Status);
    }

    [Fact]
    public void Interrupted_transfer_resumes_from_disk_after_restart()
    {
        var (container, signed, chunks) = MakeRelease(chunkSize: 700);
        var state = Path.Combine(_dir, "state");
        var first = new BundleAssembler(signed, _key, state);
        foreach (var c in chunks.Where(c => c.Index % 2 == 0)) first.Accept(c);
        Assert.Null(first.TryAssemble());
        // Simulate a crash mid-write: a temp file and a chunk file damaged on disk.
        File.WriteAllBytes(Path.Combine(state, "000001.chunk.tmp"), [1, 2, 3]);
        File.WriteAllBytes(Path.Combine(state, "000002.chunk"), [9, 9, 9]);

        var resumed = new BundleAssembler(signed, _key, state);
        var evens = chunks.Count(c => c.Index % 2 == 0);
        Assert.Equal(evens - 1, resumed.ResumedCount);
        Assert.Equal(chunks.Where(c => c.Index % 2 == 1 || c.Index == 2).Select(c => c.Index), resumed.MissingChunks);
        foreach (var i in resumed.MissingChunks) Assert.Equal(ChunkStatus.Accepted, resumed.Accept(chunks[i]).Status);
        var bundle = resumed.TryAssemble();
        Assert.Equal(container, bundle);

        var extracted = Path.Combine(_dir, "extracted");
        BundlePackager.Extract(bundle!, extracted);
        Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "bundle", "head.safetensors")), File.ReadAllBytes(Path.Combine(extracted, "head.safetensors")));
        resumed.Clear();
        Assert.False(Directory.Exists(state));
    }

    [Fact]
    public void State_of_an_older_release_is_discarded()
    {
        var (_, signed, chunks) = MakeRelease();
        var state = Path.Combine(_dir, "state");
        new BundleAssembler(signed, _key, state).Accept(chunks[0]);
        var newer = ReleaseSigner.Sign(signed with { Version = "1.8.0" }, _key);
        Assert.Equal(0, new BundleAssembler(newer, _key, state).ResumedCount);
    }

    [Fact]
    public void Packing_is_deterministic()
    {
        var (container, _, _) = MakeRelease();
        Assert.Equal(container, BundlePackager.Pack(Path.Combine(_dir, "bundle")));
    }
}
