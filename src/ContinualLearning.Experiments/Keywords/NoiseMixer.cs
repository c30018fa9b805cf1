namespace ContinualLearning.Experiments.Keywords;

/// <summary>
/// Background noise and SNR mixing, in code with a seeded <see cref="Random"/> so a noisy clip is the same bytes on
/// every run. SNR is defined over the word: 10·log10(P_word / P_noise), with P the mean square over the word's samples,
/// so the silence around a word does not change how loud the noise is.
/// </summary>
internal static class NoiseMixer
{
    /// <summary>Mean square of <paramref name="samples"/> (0 for none).</summary>
    public static double Power(ReadOnlySpan<float> samples)
    {
        if (samples.IsEmpty) return 0;
        double sum = 0;
        foreach (var s in samples) sum += (double)s * s;
        return sum / samples.Length;
    }

    /// <summary>
    /// The factor to multiply noise of power <paramref name="noisePower"/> by so that a signal of power
    /// <paramref name="signalPower"/> sits <paramref name="snrDb"/> dB above it: sqrt(P_s / (P_n · 10^(SNR/10))).
    /// </summary>
    public static double ScaleFor(double signalPower, double noisePower, double snrDb)
    {
        if (!(noisePower > 0)) throw new ArgumentOutOfRangeException(nameof(noisePower), noisePower, "Noise power must be positive to scale it to an SNR.");
        ArgumentOutOfRangeException.ThrowIfNegative(signalPower);
        return Math.Sqrt(signalPower / (noisePower * Math.Pow(10, snrDb / 10)));
    }

    /// <summary>
    /// <paramref name="clean"/> plus <paramref name="noise"/> scaled to <paramref name="snrDb"/> relative to the power of
    /// clean[<paramref name="wordStart"/> .. +<paramref name="wordLength"/>] (the noise's power is taken over the same span).
    /// </summary>
    public static float[] Mix(ReadOnlySpan<float> clean, ReadOnlySpan<float> noise, int wordStart, int wordLength, double snrDb)
    {
        if (noise.Length < clean.Length) throw new ArgumentException($"Noise has {noise.Length} samples, fewer than the clip's {clean.Length}.", nameof(noise));
        if (wordLength < 1 || wordStart < 0 || wordStart + wordLength > clean.Length)
            throw new ArgumentOutOfRangeException(nameof(wordLength), $"Word span {wordStart}+{wordLength} is outside the clip of {clean.Length} samples.");
        var scale = (float)ScaleFor(Power(clean.Slice(wordStart, wordLength)), Power(noise.Slice(wordStart, wordLength)), snrDb);
        var mixed = new float[clean.Length];
        for (var i = 0; i < mixed.Length; i++) mixed[i] = clean[i] + scale * noise[i];
        return mixed;
    }

    /// <summary><paramref name="length"/> samples of <paramref name="kind"/> noise (arbitrary level: <see cref="Mix"/> scales it).</summary>
    public static float[] Generate(NoiseKind kind, int length, Random rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        // The coloured noises come from recursive filters: run them a while first so the clip does not start in their transient.
        const int settle = 4_000;
        var result = new float[length];
        double b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0, b6 = 0, brown = 0;
        for (var i = -settle; i < length; i++)
        {
            var white = Gaussian(rng);
            double value;
            switch (kind)
            {
                case NoiseKind.White:
                    value = white;
                    break;
                case NoiseKind.Pink:
                    // Paul Kellet's refined pink filter (within ±0.05 dB of −3 dB/octave above 9 Hz at 44.1 kHz).
                    b0 = 0.99886 * b0 + white * 0.0555179;
                    b1 = 0.99332 * b1 + white * 0.0750759;
                    b2 = 0.96900 * b2 + white * 0.1538520;
                    b3 = 0.86650 * b3 + white * 0.3104856;
                    b4 = 0.55000 * b4 + white * 0.5329522;
                    b5 = -0.7616 * b5 - white * 0.0168980;
                    value = b0 + b1 + b2 + b3 + b4 + b5 + b6 + white * 0.5362;
                    b6 = white * 0.115926;
                    break;
                case NoiseKind.Brown:
                    // A leaky integrator: −6 dB/octave above a few Hz, without the random walk drifting off.
                    brown = 0.995 * brown + white * 0.1;
                    value = brown;
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(kind), kind, "Only white, pink and brown noise can be generated.");
            }
            if (i >= 0) result[i] = (float)value;
        }
        return result;
    }

    // Box–Muller from the seeded generator (Random.NextDouble is stable for a given seed).
    private static double Gaussian(Random rng)
    {
        var u1 = 1.0 - rng.NextDouble();
        var u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
