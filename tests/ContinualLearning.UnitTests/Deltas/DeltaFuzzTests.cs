using ContinualLearning.Deltas;

namespace ContinualLearning.UnitTests.Deltas;

/// <summary>Random damage to valid payloads must only ever produce <see cref="DeltaFormatException"/> (or a valid delta).</summary>
public class DeltaFuzzTests
{
    private const int Cases = 2000;

    [Fact]
    public void Truncations_and_bit_flips_only_raise_DeltaFormatException()
    {
        var rng = new Random(2024);
        var payloads = DeltaTestData.Encodings
            .SelectMany(e => DeltaTestData.Fractions.Select(f => DeltaTestData.ValidPayload(rng, new DeltaCompressionOptions(f, e))))
            .ToArray();
        var rejected = 0;
        var parsedAfterReseal = 0;
        for (var c = 0; c < Cases; c++)
        {
            var original = payloads[rng.Next(payloads.Length)];
            var damaged = Damage(rng, original);
            // Half the cases re-seal the checksum, so the damage reaches the parser rather than stopping at the hash.
            var reseal = c % 2 == 1 && damaged.Length > DeltaCodec.ChecksumLength;
            if (reseal) DeltaTestData.Reseal(damaged);
            try
            {
                DeltaCodec.Decode(damaged);
                if (reseal) parsedAfterReseal++;
            }
            catch (DeltaFormatException ex)
            {
                Assert.False(string.IsNullOrWhiteSpace(ex.Message));
                rejected++;
            }
            catch (Exception ex)
            {
                Assert.Fail($"Case {c}: {ex.GetType().Name} instead of DeltaFormatException: {ex.Message}\n{ex.StackTrace}");
            }
        }
        // Without re-sealing every damaged payload must fail the checksum; re-sealed ones may still parse (e.g. a flipped value bit).
        Assert.True(rejected >= Cases / 2, $"only {rejected} of {Cases} damaged payloads were rejected");
        Assert.True(parsedAfterReseal < Cases / 2);
    }

    private static byte[] Damage(Random rng, byte[] original)
    {
        switch (rng.Next(4))
        {
            case 0:
                return original[..rng.Next(original.Length)];
            case 1:
            {
                var p = (byte[])original.Clone();
                var flips = rng.Next(1, 4);
                for (var i = 0; i < flips; i++) p[rng.Next(p.Length - DeltaCodec.ChecksumLength)] ^= (byte)(1 << rng.Next(8));
                return p;
            }
            case 2:
            {
                var p = (byte[])original.Clone();
                p[rng.Next(5, p.Length - DeltaCodec.ChecksumLength)] = (byte)rng.Next(256);
                return p;
            }
            default:
            {
                // Cut out a slice from the middle: shifts every later field.
                var from = rng.Next(5, original.Length - 1);
                var len = rng.Next(1, original.Length - from);
                return [.. original.AsSpan(0, from), .. original.AsSpan(from + len)];
            }
        }
    }
}
