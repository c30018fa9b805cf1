using System.Buffers.Binary;
using System.Security.Cryptography;

namespace ContinualLearning.Privacy;

/// <summary>
/// Standard normal draws for the DP mechanisms. <see cref="Secure"/> takes its bits from the operating system's CSPRNG
/// (<see cref="RandomNumberGenerator"/>): the privacy guarantee assumes the noise is unknown to whoever sees the
/// released model. <see cref="System.Random"/> is not used for it: its generator (xoshiro256** unseeded, Knuth's
/// subtractive generator when seeded) is not cryptographic, so its state can be recovered from enough outputs or a
/// guessed seed, and whoever knows the state can subtract the noise from a release and recover the clipped, exact
/// aggregate. <see cref="Seeded"/> exists for benchmarks and tests that must be repeatable and is never used by the
/// services.
/// </summary>
public sealed class GaussianNoise
{
    private readonly Action<Span<byte>> _fill;
    private readonly byte[] _buffer = new byte[4096];
    private int _used;
    private double? _spare;

    private GaussianNoise(Action<Span<byte>> fill)
    {
        _fill = fill;
        _used = _buffer.Length;
    }

    /// <summary>Noise from the OS CSPRNG: what the aggregator and devices use.</summary>
    public static GaussianNoise Secure() => new(RandomNumberGenerator.Fill);

    /// <summary>Repeatable noise from a seed: for benchmarks and tests only (predictable, so it protects nothing).</summary>
    public static GaussianNoise Seeded(int seed)
    {
#pragma warning disable CA5394 // Deliberately predictable: repeatable benchmark runs, never a release.
        var random = new Random(seed);
        return new GaussianNoise(random.NextBytes);
#pragma warning restore CA5394
    }

    /// <summary>One N(0, 1) draw (Box–Muller on 53-bit uniforms; the second value of each pair is kept for the next call).</summary>
    public double Next()
    {
        if (_spare is { } s)
        {
            _spare = null;
            return s;
        }
        // u1 in (0, 1]: ln(0) would be −∞.
        var u1 = 1.0 - Uniform();
        var u2 = Uniform();
        var r = Math.Sqrt(-2 * Math.Log(u1));
        _spare = r * Math.Sin(2 * Math.PI * u2);
        return r * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Adds N(0, std²) to every element of <paramref name="values"/>.</summary>
    public void Add(Span<float> values, double std)
    {
        for (var i = 0; i < values.Length; i++) values[i] += (float)(std * Next());
    }

    /// <summary>A uniform double in [0, 1) with 53 random bits.</summary>
    private double Uniform()
    {
        if (_used + 8 > _buffer.Length)
        {
            _fill(_buffer);
            _used = 0;
        }
        var bits = BinaryPrimitives.ReadUInt64LittleEndian(_buffer.AsSpan(_used, 8)) >> 11;
        _used += 8;
        return bits * (1.0 / (1UL << 53));
    }
}
