using ContinualLearning.Audio;
using ContinualLearning.Experiments.Keywords;

namespace ContinualLearning.UnitTests.Experiments.Keywords;

/// <summary>The generator's pure signal maths: resampling, trimming, placing, SNR mixing; reading clips; manifest text.</summary>
public sealed class KeywordSignalTests
{
    [Theory]
    [InlineData(440.0)]
    [InlineData(1000.0)]
    [InlineData(5000.0)]
    public void Resampling_keeps_a_tone_in_the_pass_band(double hz)
    {
        const int from = 22_050, to = 16_000;
        var input = Enumerable.Range(0, from).Select(i => (float)(10_000 * Math.Sin(2 * Math.PI * hz * i / from))).ToArray();

        var output = AudioDsp.Resample(input, from, to);

        Assert.Equal(to, output.Length);
        // Away from the edges the output must be the same tone sampled at 16 kHz, within 0.5 % of its amplitude.
        var worst = 0.0;
        for (var n = 200; n < to - 200; n++)
            worst = Math.Max(worst, Math.Abs(output[n] - 10_000 * Math.Sin(2 * Math.PI * hz * n / to)));
        Assert.True(worst < 50, $"largest deviation {worst:0.0} at {hz} Hz");
    }

    [Fact]
    public void Resampling_removes_a_tone_above_the_new_nyquist_frequency()
    {
        const int from = 22_050, to = 16_000;
        // 9.5 kHz is representable at 22,050 Hz but would alias to 6.5 kHz at 16 kHz.
        var input = Enumerable.Range(0, from).Select(i => (float)(10_000 * Math.Sin(2 * Math.PI * 9_500 * i / from))).ToArray();

        var output = AudioDsp.Resample(input, from, to);

        var rms = Math.Sqrt(NoiseMixer.Power(output.AsSpan(200, to - 400)));
        Assert.True(rms < 10_000 / Math.Sqrt(2) / 1000, $"alias RMS {rms:0.0} (input RMS 7071): more than −60 dB got through");
    }

    [Fact]
    public void Trim_finds_the_sound_and_keeps_the_margin()
    {
        var x = new float[1000];
        for (var i = 300; i < 600; i++) x[i] = 1000;
        x[100] = 5; // below 2 % of the peak: background, not the word

        var (start, length) = AudioDsp.Trim(x, 0.02, 10);

        Assert.Equal((290, 320), (start, length));
        Assert.Equal((0, 0), AudioDsp.Trim(new float[50], 0.02, 10));
    }

    [Fact]
    public void A_word_is_placed_in_the_middle_with_bounded_jitter_and_its_peak_at_the_level()
    {
        Assert.Equal(5000, AudioDsp.PlaceOffset(16_000, 6000, 1280, 0));
        Assert.Equal(6280, AudioDsp.PlaceOffset(16_000, 6000, 1280, 1));
        Assert.Equal(0, AudioDsp.PlaceOffset(16_000, 15_000, 1280, -1));
        Assert.Equal(0, AudioDsp.PlaceOffset(16_000, 20_000, 1280, 0.5));

        var clip = AudioDsp.Place([1f, -4f, 2f], 10, 3, -6);
        Assert.Equal(0f, clip[2]);
        Assert.Equal(-Math.Pow(10, -6.0 / 20) * short.MaxValue, clip[4], 2);
        Assert.Equal(0f, clip[6]);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(5.0)]
    [InlineData(20.0)]
    public void Mixing_puts_the_noise_at_the_requested_snr_over_the_word(double snr)
    {
        var rng = new Random(4);
        var clean = new float[4000];
        for (var i = 1000; i < 3000; i++) clean[i] = (float)(3000 * Math.Sin(i * 0.05));
        var noise = NoiseMixer.Generate(NoiseKind.Pink, clean.Length, rng);

        var mixed = NoiseMixer.Mix(clean, noise, 1000, 2000, snr);

        var added = new float[2000];
        for (var i = 0; i < 2000; i++) added[i] = mixed[1000 + i] - clean[1000 + i];
        var measured = 10 * Math.Log10(NoiseMixer.Power(clean.AsSpan(1000, 2000)) / NoiseMixer.Power(added));
        Assert.Equal(snr, measured, 3);
        // The noise covers the whole clip, silence included, at the same scale.
        Assert.NotEqual(0f, mixed[10]);
    }

    [Fact]
    public void Snr_scale_is_the_closed_form()
    {
        // P_s = 4, P_n = 1, 0 dB: the noise must be scaled to power 4, i.e. by 2; at 20 dB to power 0.04.
        Assert.Equal(2.0, NoiseMixer.ScaleFor(4, 1, 0), 12);
        Assert.Equal(0.2, NoiseMixer.ScaleFor(4, 1, 20), 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => NoiseMixer.ScaleFor(4, 0, 0));
    }

    [Fact]
    public void Noise_is_the_same_for_the_same_seed_and_coloured_as_named()
    {
        Assert.Equal(NoiseMixer.Generate(NoiseKind.Brown, 500, new Random(9)), NoiseMixer.Generate(NoiseKind.Brown, 500, new Random(9)));
        Assert.NotEqual(NoiseMixer.Generate(NoiseKind.White, 500, new Random(9)), NoiseMixer.Generate(NoiseKind.White, 500, new Random(10)));

        // Neighbouring samples: independent for white noise, strongly correlated for the low-frequency-heavy colours.
        static double Lag1(float[] x)
        {
            double num = 0, den = 0;
            for (var i = 1; i < x.Length; i++) { num += x[i] * x[i - 1]; den += x[i] * x[i]; }
            return num / den;
        }
        Assert.InRange(Lag1(NoiseMixer.Generate(NoiseKind.White, 20_000, new Random(1))), -0.05, 0.05);
        Assert.InRange(Lag1(NoiseMixer.Generate(NoiseKind.Pink, 20_000, new Random(1))), 0.5, 1);
        Assert.InRange(Lag1(NoiseMixer.Generate(NoiseKind.Brown, 20_000, new Random(1))), 0.95, 1);
    }

    [Fact]
    public void A_clip_is_read_at_the_corpus_rate_and_a_wrong_one_names_the_file()
    {
        var dir = Directory.CreateTempSubdirectory("cl-kw-read-").FullName;
        try
        {
            var spec = KeywordCorpusSpec.Small with { ClipSeconds = 0.5 };
            Directory.CreateDirectory(Path.Combine(dir, "clips"));
            short[] pcm = [0, 1, -1, short.MaxValue, short.MinValue];
            File.WriteAllBytes(Path.Combine(dir, "clips", "good.wav"), WavWriter.Pcm16Mono(pcm, spec.SampleRate));
            File.WriteAllBytes(Path.Combine(dir, "clips", "fast.wav"), WavWriter.Pcm16Mono(pcm, 22_050));
            File.WriteAllBytes(Path.Combine(dir, "clips", "long.wav"), WavWriter.Pcm16Mono(new short[spec.SampleRate / 2 + 1], spec.SampleRate));
            var row = new KeywordClip("clips/good.wav", "yes", "en-us", "m1", 0, 150, 40, -6, 0, 5, NoiseKind.None, null);
            var corpus = new KeywordCorpus(dir, spec, [row]);

            Assert.Equal(pcm.Select(s => (float)s), corpus.Read(row));
            var e = Assert.Throws<InvalidDataException>(() => corpus.Read(row with { File = "clips/fast.wav" }));
            Assert.Contains("clips/fast.wav", e.Message, StringComparison.Ordinal);
            Assert.Contains("22,050 Hz", e.Message, StringComparison.Ordinal);
            Assert.Throws<InvalidDataException>(() => corpus.Read(row with { File = "clips/long.wav" }));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Manifest_rows_round_trip_and_bad_rows_name_the_line()
    {
        KeywordClip[] clips =
        [
            new("clips/yes/en-us_m1_0.wav", "yes", "en-us", "m1", 0, 150, 40, -6.5, 4000, 6000, NoiseKind.None, null),
            new("clips/yes/en-us_m1_0_pink0.wav", "yes", "en-us", "m1", 0, 150, 40, -6.5, 4000, 6000, NoiseKind.Pink, 5),
        ];
        Assert.Equal(clips, KeywordClip.ParseCsv(KeywordClip.ToCsv(clips)));

        var bad = KeywordClip.Header + "\nclips/a.wav,yes,en-us,m1,zero,150,40,-6.5,4000,6000,none,\n";
        var e = Assert.Throws<FormatException>(() => KeywordClip.ParseCsv(bad));
        Assert.Contains("line 2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_small_spec_plans_exactly_the_clips_of_the_full_spec_it_contains()
    {
        var full = KeywordCorpusPlan.Clips(new KeywordCorpusSpec());
        var small = KeywordCorpusPlan.Clips(KeywordCorpusSpec.Small);

        Assert.Equal(12 * 8 * 12 * 2, full.Count);
        Assert.Equal(3 * 2 * 2, small.Count);
        foreach (var clip in small)
        {
            var same = full.Single(f => f.Word == clip.Word && f.Accent == clip.Accent && f.Variant == clip.Variant && f.Take == clip.Take);
            Assert.Equal((same.Speed, same.Pitch, same.GainDb, same.Jitter), (clip.Speed, clip.Pitch, clip.GainDb, clip.Jitter));
            Assert.Equal(same.Noisy, clip.Noisy);
        }
        // Another seed draws other speeds.
        var reseeded = KeywordCorpusPlan.Clips(KeywordCorpusSpec.Small with { Seed = 2 });
        Assert.NotEqual(small.Select(c => c.Speed), reseeded.Select(c => c.Speed));
    }

    [Fact]
    public void Spec_validation_names_the_setting()
    {
        var e = Assert.Throws<ArgumentException>(() => (KeywordCorpusSpec.Small with { Words = ["yes", "--help"] }).Validate());
        Assert.Contains("Words", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => (KeywordCorpusSpec.Small with { PitchMax = 120 }).Validate());
        Assert.Contains("PitchMax", e.Message, StringComparison.Ordinal);
    }
}
