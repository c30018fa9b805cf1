using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using ContinualLearning.Audio;
using ContinualLearning.Pipelines;

namespace ContinualLearning.Experiments.Keywords;

/// <summary>A generated corpus: its folder, the spec it was made from and its clips (manifest order).</summary>
public sealed record KeywordCorpus(string Directory, KeywordCorpusSpec Spec, IReadOnlyList<KeywordClip> Clips)
{
    /// <summary>Full path of a clip's WAV file.</summary>
    public string PathOf(KeywordClip clip)
    {
        ArgumentNullException.ThrowIfNull(clip);
        return Path.Combine(Directory, clip.File);
    }

    /// <summary>
    /// A clip's samples (int16-scale floats) as the speech pipeline takes them. Throws <see cref="InvalidDataException"/>
    /// naming the file when it is not a PCM16 mono WAV of at most one clip at the corpus's rate.
    /// </summary>
    public float[] Read(KeywordClip clip)
    {
        var path = PathOf(clip);
        try
        {
            return WavReader.ReadPcm16Mono(File.ReadAllBytes(path), new AudioInputSpec(Spec.SampleRate, Spec.ClipSamples, Spec.ClipSamples));
        }
        catch (WavFormatException e)
        {
            throw new InvalidDataException($"Keyword clip {clip.File}: {e.Message} Regenerate the corpus (cl keywords make).", e);
        }
    }
}

/// <summary>What <see cref="KeywordCorpusGenerator.Generate"/> did.</summary>
/// <param name="Corpus">The corpus on disk.</param>
/// <param name="Generated">False when a matching corpus was already there.</param>
/// <param name="Elapsed">Time taken.</param>
public sealed record KeywordCorpusResult(KeywordCorpus Corpus, bool Generated, TimeSpan Elapsed);

/// <summary>
/// Generates a keyword corpus: espeak-ng speaks every word in every accent and variant, the 22,050 Hz output is
/// resampled to the spec's rate, trimmed, placed in a fixed-length clip at a seeded level and offset, and noisy copies
/// are mixed in code. Writes <c>clips/&lt;word&gt;/*.wav</c>, <c>manifest.csv</c> and, last, <c>corpus.json</c>
/// (the spec and espeak-ng version): a folder whose <c>corpus.json</c> matches is left as it is.
/// </summary>
public static class KeywordCorpusGenerator
{
    /// <summary>File that records what a corpus was generated from.</summary>
    public const string SpecFile = "corpus.json";

    /// <summary>The clip list.</summary>
    public const string ManifestFile = "manifest.csv";

    /// <summary>Where the full corpus lives unless a command is told otherwise: $CL_KEYWORDS_DIR, else data/keywords.</summary>
    public static string DefaultDirectory() =>
        Environment.GetEnvironmentVariable("CL_KEYWORDS_DIR") is { Length: > 0 } dir ? dir : Path.Combine("data", "keywords");

    /// <summary>
    /// Generates the corpus of <paramref name="spec"/> into <paramref name="directory"/> unless it is already there.
    /// <paramref name="parallelism"/> only changes the speed: the bytes are the same. Throws
    /// <see cref="InvalidOperationException"/> with what to install when espeak-ng is missing.
    /// </summary>
    public static KeywordCorpusResult Generate(string directory, KeywordCorpusSpec spec, int parallelism = 1, string espeakExecutable = "espeak-ng", IProgress<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        spec.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(parallelism, 1);
        var watch = Stopwatch.StartNew();
        var espeak = new EspeakSynthesizer(espeakExecutable);
        var version = espeak.Version()
            ?? throw new InvalidOperationException($"Cannot run '{espeakExecutable}' to generate the keyword corpus; {EspeakSynthesizer.InstallHint}.");
        var specJson = SpecJson(spec, version);
        if (TryLoad(directory, specJson) is { } existing) return new KeywordCorpusResult(existing, false, watch.Elapsed);

        System.IO.Directory.CreateDirectory(directory);
        var specPath = Path.Combine(directory, SpecFile);
        // Removed first: an interrupted run must not leave a folder that looks complete.
        File.Delete(specPath);
        var plans = KeywordCorpusPlan.Clips(spec);
        var rows = new KeywordClip[plans.Count][];
        var done = 0;
        Parallel.For(0, plans.Count, new ParallelOptions { MaxDegreeOfParallelism = parallelism }, i =>
        {
            rows[i] = Render(directory, spec, espeak, plans[i]);
            var n = Interlocked.Increment(ref done);
            progress?.Report(n);
        });
        var clips = rows.SelectMany(r => r).ToArray();
        File.WriteAllText(Path.Combine(directory, ManifestFile), KeywordClip.ToCsv(clips), new UTF8Encoding(false));
        File.WriteAllText(specPath, specJson, new UTF8Encoding(false));
        return new KeywordCorpusResult(new KeywordCorpus(Path.GetFullPath(directory), spec, clips), true, watch.Elapsed);
    }

    /// <summary>Loads a generated corpus; throws <see cref="FileNotFoundException"/> saying how to make one when absent.</summary>
    public static KeywordCorpus Load(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var specPath = Path.Combine(directory, SpecFile);
        if (!File.Exists(specPath))
            throw new FileNotFoundException($"No keyword corpus in '{Path.GetFullPath(directory)}' ({SpecFile} missing). Generate it with `cl keywords make --out {directory}` or scripts/keywords.sh.", specPath);
        var stored = JsonSerializer.Deserialize(File.ReadAllText(specPath), CorpusJson.Default.CorpusFile)
            ?? throw new InvalidDataException($"{specPath} is empty; regenerate the corpus.");
        var clips = KeywordClip.ParseCsv(File.ReadAllText(Path.Combine(directory, ManifestFile)));
        return new KeywordCorpus(Path.GetFullPath(directory), stored.Spec, clips);
    }

    /// <summary>corpus.json text for a spec and espeak-ng version (what decides whether a folder is up to date).</summary>
    internal static string SpecJson(KeywordCorpusSpec spec, string espeakVersion) =>
        JsonSerializer.Serialize(new CorpusFile(espeakVersion, spec), CorpusJson.Default.CorpusFile);

    private static KeywordCorpus? TryLoad(string directory, string specJson)
    {
        var specPath = Path.Combine(directory, SpecFile);
        var manifestPath = Path.Combine(directory, ManifestFile);
        if (!File.Exists(specPath) || !File.Exists(manifestPath) || File.ReadAllText(specPath) != specJson) return null;
        try
        {
            var corpus = Load(directory);
            return corpus.Clips.All(c => File.Exists(corpus.PathOf(c))) ? corpus : null;
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidDataException)
        {
            return null;
        }
    }

    // One clean clip and its noisy copies.
    private static KeywordClip[] Render(string directory, KeywordCorpusSpec spec, EspeakSynthesizer espeak, PlannedClip plan)
    {
        var (raw, rate) = espeak.Speak(plan.Word, $"{plan.Accent}+{plan.Variant}", plan.Speed, plan.Pitch);
        var audio = AudioDsp.Resample(raw, rate, spec.SampleRate);
        // 2 % of peak finds the word's edges in espeak-ng's silent padding; 10 ms keeps the onset and release.
        var (start, length) = AudioDsp.Trim(audio, 0.02, spec.SampleRate / 100);
        if (length == 0) throw new InvalidOperationException($"espeak-ng produced silence for '{plan.Word}' with voice {plan.Accent}+{plan.Variant}.");
        var clipLength = spec.ClipSamples;
        var word = audio.AsSpan(start, Math.Min(length, clipLength));
        var offset = AudioDsp.PlaceOffset(clipLength, word.Length, (int)Math.Round(spec.MaxJitterSeconds * spec.SampleRate), plan.Jitter);
        var clean = AudioDsp.Place(word, clipLength, offset, plan.GainDb);
        var folder = Path.Combine(directory, "clips", plan.Word);
        System.IO.Directory.CreateDirectory(folder);
        var stem = $"{plan.Accent}_{plan.Variant}_{plan.Take}";
        var result = new KeywordClip[1 + plan.Noisy.Count];
        result[0] = Write(folder, $"clips/{plan.Word}/{stem}.wav", clean, spec.SampleRate,
            new KeywordClip("", plan.Word, plan.Accent, plan.Variant, plan.Take, plan.Speed, plan.Pitch, plan.GainDb, offset, word.Length, NoiseKind.None, null));
        for (var c = 0; c < plan.Noisy.Count; c++)
        {
            var noisy = plan.Noisy[c];
            var noise = NoiseMixer.Generate(noisy.Kind, clipLength, new Random(noisy.Seed));
            var mixed = NoiseMixer.Mix(clean, noise, offset, word.Length, noisy.SnrDb);
            var kind = noisy.Kind.ToString().ToLowerInvariant();
            result[1 + c] = Write(folder, $"clips/{plan.Word}/{stem}_{kind}{c}.wav", mixed, spec.SampleRate,
                result[0] with { Noise = noisy.Kind, SnrDb = noisy.SnrDb });
        }
        return result;
    }

    private static KeywordClip Write(string folder, string relative, float[] samples, int rate, KeywordClip row)
    {
        // Rounds and saturates at the int16 range: a loud noisy mix clips as a real ADC would.
        File.WriteAllBytes(Path.Combine(folder, Path.GetFileName(relative)), WavWriter.Pcm16Mono(samples, rate));
        return row with { File = relative };
    }
}

/// <summary>corpus.json: the spec and the espeak-ng version it was spoken with.</summary>
internal sealed record CorpusFile(string Espeak, KeywordCorpusSpec Spec);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(CorpusFile))]
internal sealed partial class CorpusJson : JsonSerializerContext;
