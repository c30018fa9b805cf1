using ContinualLearning.Experiments.Keywords;
using ContinualLearning.Pipelines;
using ContinualLearning.Streams;
using ContinualLearning.UnitTests.Pipelines;

namespace ContinualLearning.UnitTests.Experiments.Keywords;

/// <summary>
/// The keyword drift stream of the federated drift benchmark: the command bindings change where the schedule says, for
/// the drifting group only, and a device hears only its voice family; the embedding cache is used only while it matches.
/// </summary>
public sealed class KeywordDriftTests : IDisposable
{
    private static readonly string[] Accents = ["en-us", "en-gb", "en-029"];

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cl-kw-drift-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Each_drift_changes_what_a_spoken_word_means_for_its_group_only()
    {
        var (clips, vectors) = FakeClips();
        var schedule = GroupDriftSchedule.ThreeGroups;
        // Group A leaves the rotated binding for the mirrored one (up/down change), B the inverted for the rotated
        // (left/right change), C the standard for the inverted (up/down change).
        string[][] changed = [["down", "up"], ["left", "right"], ["down", "up"]];
        for (var g = 0; g < schedule.Groups; g++)
        {
            var t = schedule.DriftRound[g];
            for (var device = 0; device < 6; device++)
            {
                var group = schedule.GroupOf(device);
                var before = Meanings(clips, vectors, Accents[device % Accents.Length], schedule.ConceptOf(group, t - 1), seed: device);
                var after = Meanings(clips, vectors, Accents[device % Accents.Length], schedule.ConceptOf(group, t), seed: device);
                var differ = KeywordBindings.Actions.Where(w => before[w] != after[w]).Order(StringComparer.Ordinal).ToArray();
                Assert.Equal(group == g ? changed[g] : [], differ);
            }
        }
        // "up" spoken to a group-A device is "down" before round 20 and "up" from then on.
        Assert.Equal(KeywordBindings.Label(1, "down"), Meanings(clips, vectors, "en-us", schedule.ConceptOf(0, 19), seed: 1)["up"]);
        Assert.Equal(KeywordBindings.Label(1, "up"), Meanings(clips, vectors, "en-us", schedule.ConceptOf(0, 20), seed: 1)["up"]);
        // Recurring concepts: B moves to the binding A started in, C to the one B started in.
        int[] Binding(int group, int round)
        {
            var meanings = Meanings(clips, vectors, "en-gb", schedule.ConceptOf(group, round), seed: round);
            return [.. KeywordBindings.Actions.Select(w => meanings[w])];
        }
        Assert.Equal(Binding(0, 0), Binding(1, 79));
        Assert.Equal(Binding(1, 0), Binding(2, 79));
        Assert.NotEqual(Binding(0, 0), Binding(2, 0));
    }

    [Fact]
    public void A_device_hears_every_clip_of_its_voice_family_once_a_pass_in_a_seeded_order()
    {
        var (clips, vectors) = FakeClips();
        var pool = Enumerable.Range(0, clips.Count).Where(i => clips[i].Accent == "en-gb").ToHashSet();

        var first = Take(KeywordBindings.Stream(clips, vectors, "en-gb", 1, seed: 5), 2 * pool.Count);
        Assert.Equal(pool.Order(), first.Take(pool.Count).Select(Index).Order());
        Assert.Equal(pool.Order(), first.Skip(pool.Count).Select(Index).Order());
        Assert.NotEqual(first.Take(pool.Count).Select(Index), first.Skip(pool.Count).Select(Index));
        Assert.Equal(first.Select(Index), Take(KeywordBindings.Stream(clips, vectors, "en-gb", 1, seed: 5), 2 * pool.Count).Select(Index));
        Assert.NotEqual(first.Select(Index), Take(KeywordBindings.Stream(clips, vectors, "en-gb", 1, seed: 6), 2 * pool.Count).Select(Index));
        // The standard binding is the word's own class.
        Assert.All(first, s => Assert.Equal(KeywordBindings.Actions[s.Label], clips[Index(s)].Word));
    }

    [Fact]
    public void Bad_words_concepts_and_voice_families_are_refused_with_what_to_do()
    {
        var (clips, vectors) = FakeClips();
        Assert.Contains("not a command word", Assert.Throws<ArgumentException>(() => KeywordBindings.Label(1, "zero")).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => KeywordBindings.Label(5, "up"));
        Assert.Contains("'en-gb-scotland'", Assert.Throws<ArgumentException>(() => KeywordBindings.Stream(clips, vectors, "en-gb-scotland", 1, 1)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => KeywordBindings.Stream(clips, vectors.Take(3).ToList(), "en-gb", 1, 1));
    }

    [Fact]
    public void Standardising_gives_each_dimension_zero_mean_and_unit_variance()
    {
        var rng = new Random(4);
        float[][] vectors = [.. Enumerable.Range(0, 500).Select(_ => new[] { (float)(3 + 2 * rng.NextDouble()), (float)(-40 * rng.NextDouble()), 7f })];

        var z = KeywordBindings.Standardise(vectors);

        for (var j = 0; j < 2; j++)
        {
            var column = z.Select(v => (double)v[j]).ToArray();
            Assert.Equal(0, column.Average(), 4);
            Assert.Equal(1, column.Average(x => x * x), 3);
        }
        Assert.All(z, v => Assert.Equal(0f, v[2]));
    }

    [Fact]
    public void The_embedding_cache_is_read_back_only_while_its_key_and_size_match()
    {
        Directory.CreateDirectory(_dir);
        var path = Path.Combine(_dir, "e.bin");
        var key = KeywordEmbeddingCache.Key([1, 2], [3], [4], PoolMode.MeanMax);
        float[][] vectors = [[1.5f, -2f], [0f, 3.25f], [float.Epsilon, -0f]];

        KeywordEmbeddingCache.Write(path, key, vectors);

        Assert.Equal(vectors, KeywordEmbeddingCache.TryRead(path, key, 3));
        Assert.Null(KeywordEmbeddingCache.TryRead(path, KeywordEmbeddingCache.Key([1, 2, 0], [3], [4], PoolMode.MeanMax), 3));
        Assert.Null(KeywordEmbeddingCache.TryRead(path, KeywordEmbeddingCache.Key([1, 2], [3], [4], PoolMode.Mean), 3));
        Assert.Null(KeywordEmbeddingCache.TryRead(path, key, 4));
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..^1]);
        Assert.Null(KeywordEmbeddingCache.TryRead(path, key, 3));
    }

    [Fact]
    public void Real_clips_are_embedded_once_then_read_from_the_cache_until_the_corpus_changes()
    {
        SpeechTestSupport.RequireModels();
        var source = KeywordCorpusFixture.Get();
        CopyCorpus(source.Directory, _dir);
        var corpus = KeywordCorpusGenerator.Load(_dir);

        var (first, firstCached) = KeywordEmbeddingCache.LoadOrEmbed(corpus, PoolMode.MeanMax, ["a", "b"]);
        var (second, secondCached) = KeywordEmbeddingCache.LoadOrEmbed(corpus, PoolMode.MeanMax, ["a", "b"]);
        File.AppendAllText(Path.Combine(_dir, KeywordCorpusGenerator.SpecFile), " ");
        var (_, afterChange) = KeywordEmbeddingCache.LoadOrEmbed(corpus, PoolMode.MeanMax, ["a", "b"]);

        Assert.False(firstCached);
        Assert.True(secondCached);
        Assert.False(afterChange);
        Assert.Equal(192, second.Width);
        for (var i = 0; i < corpus.Clips.Count; i++) Assert.Equal(first.Vector(i, PoolMode.MeanMax), second.Vector(i, PoolMode.MeanMax));
    }

    // What each command word means (its class) in a stream: one pass over the device's clips, every word must agree.
    private static Dictionary<string, int> Meanings(List<KeywordClip> clips, List<float[]> vectors, string accent, int concept, int seed)
    {
        var samples = Take(KeywordBindings.Stream(clips, vectors, accent, concept, seed), clips.Count(c => c.Accent == accent));
        return samples.GroupBy(s => clips[Index(s)].Word).ToDictionary(g => g.Key, g => Assert.Single(g.Select(s => s.Label).Distinct()));
    }

    private static int Index(Sample s) => (int)s.Features[0];

    private static List<Sample> Take(IEnumerator<Sample> stream, int count)
    {
        var samples = new List<Sample>();
        while (samples.Count < count && stream.MoveNext()) samples.Add(stream.Current);
        return samples;
    }

    // The ten command words in three voice families, two variants, clean and noisy; a clip's "embedding" is its index.
    private static (List<KeywordClip> Clips, List<float[]> Vectors) FakeClips()
    {
        var clips = new List<KeywordClip>();
        foreach (var accent in Accents)
        {
            foreach (var word in KeywordBindings.Actions)
            {
                foreach (var variant in new[] { "m1", "f2" })
                {
                    clips.Add(new KeywordClip($"{word}/{accent}_{variant}.wav", word, accent, variant, 0, 170, 50, -6, 0, 1, NoiseKind.None, null));
                    clips.Add(new KeywordClip($"{word}/{accent}_{variant}_n.wav", word, accent, variant, 0, 170, 50, -6, 0, 1, NoiseKind.White, 5));
                }
            }
        }
        return (clips, [.. clips.Select((_, i) => new float[] { i })]);
    }

    private static void CopyCorpus(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".bin", StringComparison.Ordinal)))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
