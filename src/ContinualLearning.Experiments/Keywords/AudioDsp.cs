namespace ContinualLearning.Experiments.Keywords;

/// <summary>
/// The signal steps of the corpus generator as pure functions (floats at int16 scale): resampling, silence trimming,
/// placing a word in a fixed-length clip and its level (quantisation is <see cref="ContinualLearning.Audio.WavWriter"/>'s).
/// </summary>
internal static class AudioDsp
{
    // Half-width of the windowed-sinc kernel in input samples: ±24 taps keep the stop band below about −60 dB with the
    // Blackman window, at ~1 ms per second of audio.
    private const int HalfTaps = 24;

    /// <summary>
    /// Band-limited resampling from <paramref name="fromRate"/> to <paramref name="toRate"/> with a Blackman-windowed
    /// sinc whose cut-off sits at 95 % of the lower Nyquist frequency (espeak-ng's 22,050 Hz to the pipeline's 16 kHz).
    /// </summary>
    public static float[] Resample(ReadOnlySpan<float> input, int fromRate, int toRate)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(fromRate, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(toRate, 1);
        if (fromRate == toRate) return input.ToArray();
        var g = Gcd(fromRate, toRate);
        long up = toRate / g, down = fromRate / g;
        var outLength = (int)(input.Length * up / down);
        var output = new float[outLength];
        // Cut-off in cycles per input sample; downsampling must also stay below the output's Nyquist frequency.
        var fc = 0.5 * Math.Min(1.0, (double)toRate / fromRate) * 0.95;
        var half = HalfTaps / Math.Min(1.0, (double)toRate / fromRate);
        var reach = (int)Math.Ceiling(half);
        var width = 2 * reach + 1;
        // Output n sits at input position n·down/up: its fraction takes one of `up` values, so the kernel is tabulated
        // per phase once (polyphase) instead of evaluating sinc and window per tap.
        var phases = (int)Math.Min(up, 4096);
        var table = new double[phases * width];
        for (var p = 0; p < phases; p++)
        {
            var frac = (double)p / up;
            for (var j = -reach; j <= reach; j++)
            {
                var d = frac - j;
                table[p * width + j + reach] = 2 * fc * Sinc(2 * fc * d) * Blackman(d / half);
            }
        }
        for (var n = 0; n < outLength; n++)
        {
            var position = n * down;
            var i = (int)(position / up);
            var phase = (int)(position % up);
            var row = phase < phases ? table.AsSpan(phase * width, width) : Kernel((double)phase / up, reach, fc, half);
            double sum = 0;
            for (var j = -reach; j <= reach; j++)
            {
                var k = i + j;
                if ((uint)k < (uint)input.Length) sum += input[k] * row[j + reach];
            }
            output[n] = (float)sum;
        }
        return output;
    }

    // For rate pairs with more phases than the table holds.
    private static double[] Kernel(double frac, int reach, double fc, double half)
    {
        var row = new double[2 * reach + 1];
        for (var j = -reach; j <= reach; j++) row[j + reach] = 2 * fc * Sinc(2 * fc * (frac - j)) * Blackman((frac - j) / half);
        return row;
    }

    private static long Gcd(long a, long b) => b == 0 ? a : Gcd(b, a % b);

    /// <summary>
    /// The span of <paramref name="samples"/> from the first to the last sample whose magnitude reaches
    /// <paramref name="relativeThreshold"/> × peak, widened by <paramref name="margin"/> samples each side; (0, 0) for silence.
    /// </summary>
    public static (int Start, int Length) Trim(ReadOnlySpan<float> samples, double relativeThreshold, int margin)
    {
        var peak = Peak(samples);
        if (peak <= 0) return (0, 0);
        var threshold = peak * relativeThreshold;
        var first = 0;
        while (Math.Abs(samples[first]) < threshold) first++;
        var last = samples.Length - 1;
        while (Math.Abs(samples[last]) < threshold) last--;
        var start = Math.Max(0, first - margin);
        var end = Math.Min(samples.Length, last + 1 + margin);
        return (start, end - start);
    }

    /// <summary>Largest magnitude.</summary>
    public static double Peak(ReadOnlySpan<float> samples)
    {
        double peak = 0;
        foreach (var s in samples) peak = Math.Max(peak, Math.Abs(s));
        return peak;
    }

    /// <summary>
    /// Where a word of <paramref name="wordLength"/> samples starts in a clip of <paramref name="clipLength"/>: the
    /// middle plus <paramref name="jitter"/> (in [−1, 1]) × <paramref name="maxJitter"/>, kept inside the clip. A word
    /// longer than the clip starts at 0 and is cut at the end.
    /// </summary>
    public static int PlaceOffset(int clipLength, int wordLength, int maxJitter, double jitter)
    {
        var room = clipLength - wordLength;
        if (room <= 0) return 0;
        var offset = room / 2 + (int)Math.Round(jitter * maxJitter);
        return Math.Clamp(offset, 0, room);
    }

    /// <summary>
    /// A clip of <paramref name="clipLength"/> samples holding <paramref name="word"/> at <paramref name="offset"/>,
    /// scaled so its peak is <paramref name="gainDb"/> dBFS (int16 full scale).
    /// </summary>
    public static float[] Place(ReadOnlySpan<float> word, int clipLength, int offset, double gainDb)
    {
        var clip = new float[clipLength];
        var peak = Peak(word);
        var scale = peak > 0 ? (float)(Math.Pow(10, gainDb / 20) * short.MaxValue / peak) : 0f;
        var n = Math.Min(word.Length, clipLength - offset);
        for (var i = 0; i < n; i++) clip[offset + i] = word[i] * scale;
        return clip;
    }

    private static double Sinc(double x) => Math.Abs(x) < 1e-12 ? 1 : Math.Sin(Math.PI * x) / (Math.PI * x);

    // Blackman window on [−1, 1], zero outside.
    private static double Blackman(double u)
    {
        if (Math.Abs(u) >= 1) return 0;
        var x = Math.PI * (u + 1);
        return 0.42 - 0.5 * Math.Cos(x) + 0.08 * Math.Cos(2 * x);
    }
}
