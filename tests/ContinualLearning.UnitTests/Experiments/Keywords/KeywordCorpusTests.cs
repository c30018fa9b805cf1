using ContinualLearning.Experiments.Keywords;

namespace ContinualLearning.UnitTests.Experiments.Keywords;

/// <summary>The generator end to end with the real espeak-ng: determinism, manifest contents, skipping an up-to-date corpus.</summary>
public sealed class KeywordCorpusTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cl-kw-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void The_same_seed_gives_the_same_bytes()
    {
        var cached = KeywordCorpusFixture.Get();
        var fresh = KeywordCorpusGenerator.Generate(_dir, KeywordCorpusSpec.Small, parallelism: 1);

        Assert.True(fresh.Generated);
        Assert.Equal(File.ReadAllBytes(Path.Combine(cached.Directory, "manifest.csv")), File.ReadAllBytes(Path.Combine(_dir, "manifest.csv")));
        foreach (var clip in cached.Clips)
            Assert.Equal(File.ReadAllBytes(cached.PathOf(clip)), File.ReadAllBytes(fresh.Corpus.PathOf(clip)));
    }

    [Fact]
    public void The_manifest_lists_every_clip_with_its_voice_and_noise()
    {
        var corpus = KeywordCorpusFixture.Get();
        var spec = KeywordCorpusSpec.Small;

        Assert.Equal(spec.Words.Count * spec.Accents.Count * spec.Variants.Count * spec.Takes * (1 + spec.NoisyCopies), corpus.Clips.Count);
        Assert.Equal(spec.Words.Order(), corpus.Clips.Select(c => c.Word).Distinct().Order());
        Assert.Equal(spec.Accents.Order(), corpus.Clips.Select(c => c.Accent).Distinct().Order());
        Assert.Equal(16_000, corpus.Spec.SampleRate);
        foreach (var clip in corpus.Clips)
        {
            var samples = corpus.Read(clip);
            Assert.Equal(16_000, samples.Length);
            Assert.InRange(clip.Speed, spec.SpeedMin, spec.SpeedMax);
            Assert.InRange(clip.Pitch, spec.PitchMin, spec.PitchMax);
            // A word is a few hundred milliseconds of sound, inside the clip.
            Assert.InRange(clip.Length, 2_000, 16_000);
            Assert.InRange(clip.Offset + clip.Length, clip.Length, 16_000);
            if (clip.IsClean)
            {
                Assert.Null(clip.SnrDb);
                Assert.InRange(20 * Math.Log10(AudioDsp.Peak(samples) / short.MaxValue), clip.GainDb - 0.01, clip.GainDb + 0.01);
                Assert.All(samples[..Math.Max(0, clip.Offset - 200)], s => Assert.Equal(0f, s));
            }
            else
            {
                Assert.Contains(clip.SnrDb!.Value, spec.SnrDb);
                var clean = corpus.Clips.Single(c => c.IsClean && c.Word == clip.Word && c.Accent == clip.Accent && c.Variant == clip.Variant && c.Take == clip.Take);
                var cleanSamples = corpus.Read(clean);
                var word = cleanSamples.AsSpan(clip.Offset, clip.Length);
                var added = new float[clip.Length];
                for (var i = 0; i < added.Length; i++) added[i] = samples[clip.Offset + i] - word[i];
                // Rounding to int16 and the rare saturated sample move the measured SNR by far less than 0.2 dB.
                var measured = 10 * Math.Log10(NoiseMixer.Power(word) / NoiseMixer.Power(added));
                Assert.InRange(measured, clip.SnrDb.Value - 0.2, clip.SnrDb.Value + 0.2);
            }
        }
    }

    [Fact]
    public void An_up_to_date_corpus_is_not_generated_again_and_another_seed_is()
    {
        KeywordCorpusFixture.Get();
        var spec = KeywordCorpusSpec.Small with { Words = ["go"], Accents = ["en-029"], Variants = ["f1"], NoisyCopies = 0 };
        Assert.True(KeywordCorpusGenerator.Generate(_dir, spec).Generated);
        var again = KeywordCorpusGenerator.Generate(_dir, spec);
        Assert.False(again.Generated);
        Assert.Single(again.Corpus.Clips);

        var reseeded = KeywordCorpusGenerator.Generate(_dir, spec with { Seed = 7 });
        Assert.True(reseeded.Generated);
        Assert.Equal(7, KeywordCorpusGenerator.Load(_dir).Spec.Seed);
    }

    [Fact]
    public void A_missing_corpus_says_how_to_make_one()
    {
        var e = Assert.Throws<FileNotFoundException>(() => KeywordCorpusGenerator.Load(_dir));
        Assert.Contains("cl keywords make", e.Message, StringComparison.Ordinal);
    }
}
