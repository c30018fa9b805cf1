using System.Text.Json.Serialization;

namespace ContinualLearning.Experiments.Keywords;

/// <summary>
/// What a keyword corpus holds. Every clip is spoken by espeak-ng as <c>{accent}+{variant}</c> (accent = the voice
/// family scenarios split by), <see cref="Takes"/> times with a speed, pitch, level and offset drawn per clip, and
/// each clean clip gets <see cref="NoisyCopies"/> copies with background noise at an SNR from <see cref="SnrDb"/>.
/// Per-clip draws depend only on <see cref="Seed"/> and the clip's identity, so a smaller spec yields a byte-identical
/// subset of a larger one. Serialised into <c>corpus.json</c>: a corpus whose file matches is not generated again.
/// </summary>
public sealed record KeywordCorpusSpec
{
    /// <summary>Bumped whenever the generator's output for the same spec changes.</summary>
    public const int CurrentGeneratorVersion = 1;

    /// <summary>The generator's output format and algorithm version.</summary>
    public int GeneratorVersion { get; init; } = CurrentGeneratorVersion;

    /// <summary>Seed of every per-clip draw.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Words spoken (the first ten are the base keywords in the scenarios; "zero" and "hello" are held back as new keywords).</summary>
    public IReadOnlyList<string> Words { get; init; } = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "zero", "hello"];

    /// <summary>espeak-ng voices (the gmw English accents): the voice families.</summary>
    public IReadOnlyList<string> Accents { get; init; } =
        ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc"];

    /// <summary>espeak-ng voice variants appended as <c>+variant</c>.</summary>
    public IReadOnlyList<string> Variants { get; init; } = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5"];

    /// <summary>Clips per word, accent and variant (each with its own speed, pitch, level and offset).</summary>
    public int Takes { get; init; } = 2;

    /// <summary>espeak-ng speed range (<c>-s</c>, words per minute), inclusive.</summary>
    public int SpeedMin { get; init; } = 130;

    /// <inheritdoc cref="SpeedMin"/>
    public int SpeedMax { get; init; } = 210;

    /// <summary>espeak-ng pitch range (<c>-p</c>, 0–99), inclusive.</summary>
    public int PitchMin { get; init; } = 25;

    /// <inheritdoc cref="PitchMin"/>
    public int PitchMax { get; init; } = 75;

    /// <summary>Peak level range of a clean clip in dB relative to full scale.</summary>
    public double GainDbMin { get; init; } = -12;

    /// <inheritdoc cref="GainDbMin"/>
    public double GainDbMax { get; init; } = -3;

    /// <summary>Clip length in seconds (the word is placed near the middle with a random offset).</summary>
    public double ClipSeconds { get; init; } = 1.0;

    /// <summary>Clip length in samples at <see cref="SampleRate"/> (internal: not part of <c>corpus.json</c>).</summary>
    internal int ClipSamples => (int)Math.Round(ClipSeconds * SampleRate);

    /// <summary>Largest shift of the word from the middle of the clip, in seconds.</summary>
    public double MaxJitterSeconds { get; init; } = 0.08;

    /// <summary>Output sample rate (the speech pipeline's 16 kHz).</summary>
    public int SampleRate { get; init; } = 16_000;

    /// <summary>Noisy copies of each clean clip.</summary>
    public int NoisyCopies { get; init; } = 1;

    /// <summary>Noise kinds a noisy copy draws from.</summary>
    public IReadOnlyList<NoiseKind> Noises { get; init; } = [NoiseKind.White, NoiseKind.Pink, NoiseKind.Brown];

    /// <summary>SNRs (dB) a noisy copy draws from; signal power is measured over the word, not the silence around it.</summary>
    public IReadOnlyList<double> SnrDb { get; init; } = [0, 5, 10];

    /// <summary>A few clips (3 words incl. a new one × 2 accents × 2 variants, one take) for tests.</summary>
    public static KeywordCorpusSpec Small { get; } = new()
    {
        Words = ["yes", "no", "zero"],
        Accents = ["en-us", "en-gb-scotland"],
        Variants = ["m1", "f2"],
        Takes = 1,
    };

    /// <summary>Throws naming the field and value when the spec cannot be generated.</summary>
    public void Validate()
    {
        static void Require(bool ok, string field, object? value, string rule)
        {
            if (!ok) throw new ArgumentException($"Keyword corpus setting '{field}' = {value} is invalid: {rule}.", field);
        }
        Require(Words.Count >= 1 && Words.All(IsSafeToken), nameof(Words), string.Join(",", Words), "give at least one word of lower-case letters");
        Require(Accents.Count >= 1 && Accents.All(IsSafeToken), nameof(Accents), string.Join(",", Accents), "give at least one espeak-ng voice name (letters, digits, '-')");
        Require(Variants.Count >= 1 && Variants.All(IsSafeToken), nameof(Variants), string.Join(",", Variants), "give at least one variant such as m1 or f2");
        Require(Takes >= 1, nameof(Takes), Takes, "it must be at least 1");
        Require(SpeedMin >= 80 && SpeedMax >= SpeedMin && SpeedMax <= 450, nameof(SpeedMax), $"{SpeedMin}..{SpeedMax}", "speeds must be 80–450 with min <= max");
        Require(PitchMin >= 0 && PitchMax >= PitchMin && PitchMax <= 99, nameof(PitchMax), $"{PitchMin}..{PitchMax}", "pitches must be 0–99 with min <= max");
        Require(GainDbMax <= 0 && GainDbMin <= GainDbMax && GainDbMin >= -40, nameof(GainDbMin), $"{GainDbMin}..{GainDbMax}", "levels must be -40–0 dBFS with min <= max");
        Require(ClipSeconds is >= 0.5 and <= 10, nameof(ClipSeconds), ClipSeconds, "it must be 0.5–10 s");
        Require(MaxJitterSeconds >= 0 && MaxJitterSeconds < ClipSeconds / 2, nameof(MaxJitterSeconds), MaxJitterSeconds, "it must be >= 0 and under half the clip");
        Require(SampleRate is >= 8_000 and <= 48_000, nameof(SampleRate), SampleRate, "it must be 8000–48000 Hz");
        Require(NoisyCopies >= 0, nameof(NoisyCopies), NoisyCopies, "it must be >= 0");
        Require(NoisyCopies == 0 || (Noises.Count >= 1 && SnrDb.Count >= 1 && SnrDb.All(double.IsFinite)), nameof(SnrDb), string.Join(",", SnrDb), "noisy copies need at least one noise kind and one finite SNR");
    }

    // Names become file names and espeak-ng arguments: a letter, then letters, digits and '-', so none can be read as an
    // option or steer a path elsewhere.
    private static bool IsSafeToken(string s) => s.Length is > 0 and <= 40 && char.IsAsciiLetterLower(s[0]) && s.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-');
}

/// <summary>Background noise mixed into a noisy copy.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<NoiseKind>))]
public enum NoiseKind
{
    /// <summary>No noise (a clean clip).</summary>
    None,

    /// <summary>Gaussian white noise (flat spectrum).</summary>
    White,

    /// <summary>Pink noise (−3 dB per octave), like many room and fan noises.</summary>
    Pink,

    /// <summary>Brown noise (−6 dB per octave), like rumble and traffic.</summary>
    Brown,
}
