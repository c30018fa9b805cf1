using System.Security.Cryptography;
using ContinualLearning.Bundle;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;

namespace ContinualLearning.Fuzz;

/// <summary>The device's release path: chunks in, assembled container out, extracted and loaded as a bundle.</summary>
internal static class ReleaseTargets
{
    private static readonly ECDsa Key = ReleaseKeys.Generate();
    private static readonly Release Release = FuzzModel.SignedRelease(Key);

    /// <summary>
    /// A bundle container (tar) as <see cref="BundlePackager.Extract"/> and <see cref="ModelBundle.Load"/> see it once a
    /// release assembled; the manifest's file hashes are resealed so the loader's checks behind them are reached.
    /// </summary>
    public static void Bundle(byte[] input)
    {
        var directory = Scratch.Fresh("bundle");
        try
        {
            BundlePackager.Extract(input, directory);
        }
        catch (InvalidDataException)
        {
            return;
        }
        Reseal.BundleDirectory(directory);
        try
        {
            var bundle = ModelBundle.Load(directory);
            _ = bundle.Features.Count + (bundle.Labels?.Count ?? 0);
        }
        catch (BundleException)
        {
        }
    }

    /// <summary>
    /// CLC1 chunks, one after another (split where the next "CLC1" starts; each one's trailing SHA-256 resealed),
    /// offered in order to an assembler of a fixed signed release, as the device's release installer does.
    /// </summary>
    public static void Chunk(byte[] input)
    {
        var assembler = new BundleAssembler(Release, Key, Scratch.Fresh("chunks"));
        foreach (var piece in SplitAtMagic(input))
        {
            BundleChunk chunk;
            try
            {
                chunk = BundleChunk.Decode(Reseal.Chunk(piece));
            }
            catch (FleetMessageException)
            {
                continue;
            }
            var result = assembler.Accept(chunk);
            if (result.Status == ChunkStatus.Accepted && !chunk.Data.AsSpan().SequenceEqual(ChunkOf(chunk.Index)))
                throw new InvalidOperationException($"Fuzz invariant: chunk {chunk.Index} was accepted with bytes the signed release does not list.");
        }
        byte[]? container;
        try
        {
            container = assembler.TryAssemble();
        }
        catch (BundleVerificationException)
        {
            return;
        }
        if (container is not null && !container.AsSpan().SequenceEqual(FuzzModel.Container))
            throw new InvalidOperationException("Fuzz invariant: the assembler handed out a container that is not the signed one.");
    }

    private static ReadOnlySpan<byte> ChunkOf(int index)
    {
        var start = index * FuzzModel.ChunkSize;
        return FuzzModel.Container.AsSpan(start, Math.Min(FuzzModel.ChunkSize, FuzzModel.Container.Length - start));
    }

    private static IEnumerable<byte[]> SplitAtMagic(byte[] input)
    {
        var start = 0;
        while (start < input.Length)
        {
            var next = input.AsSpan(start + 1).IndexOf(BundleChunk.Magic);
            var end = next < 0 ? input.Length : start + 1 + next;
            yield return input[start..end];
            start = end;
        }
    }
}
