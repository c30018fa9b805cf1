using ContinualLearning.Streams;

namespace ContinualLearning.Experiments.Keywords;

/// <summary>
/// Concept drift for keyword spotting: the <em>command binding</em> — which action (class) a spoken keyword triggers —
/// changes while the speech does not. A robot or camera turned to face its operator swaps left and right; a device
/// mounted upside down, or a "natural scrolling" setting, swaps up and down. The same sound then means another
/// class: P(y | x) changes and P(x) does not, so no model of the audio alone can notice it, one model for a fleet whose
/// groups are bound differently is wrong for one of them, and a group's devices agree with each other (what
/// concept-aware aggregation looks for). Class i is the action the standard binding gives to word i of
/// <see cref="Actions"/>.
/// </summary>
public static class KeywordBindings
{
    /// <summary>The ten command words and, in this order, the ten actions (classes).</summary>
    public static IReadOnlyList<string> Actions { get; } = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"];

    /// <summary>Concepts are numbered 1 to <see cref="Concepts"/>, as the SEA concepts are.</summary>
    public const int Concepts = 4;

    /// <summary>What concept <paramref name="concept"/> does to the standard binding.</summary>
    public static string Describe(int concept) => Check(concept) switch
    {
        1 => "standard",
        2 => "mirrored (left ↔ right)",
        3 => "rotated 180° (left ↔ right, up ↔ down)",
        _ => "inverted vertical (up ↔ down)",
    };

    /// <summary>The class spoken word <paramref name="word"/> triggers under <paramref name="concept"/>.</summary>
    /// <exception cref="ArgumentException">The word is not one of <see cref="Actions"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The concept is not 1–4.</exception>
    public static int Label(int concept, string word)
    {
        var index = KeywordRows.IndexOf(Actions, word);
        if (index < 0) throw new ArgumentException($"'{word}' is not a command word; the bindings cover {string.Join(", ", Actions)}.", nameof(word));
        var mirrored = Check(concept) is 2 or 3;
        var inverted = concept is 3 or 4;
        return word switch
        {
            "left" when mirrored => KeywordRows.IndexOf(Actions, "right"),
            "right" when mirrored => KeywordRows.IndexOf(Actions, "left"),
            "up" when inverted => KeywordRows.IndexOf(Actions, "down"),
            "down" when inverted => KeywordRows.IndexOf(Actions, "up"),
            _ => index,
        };
    }

    /// <summary>
    /// One device's endless labelled stream under <paramref name="concept"/>: the clips of its voice family
    /// <paramref name="accent"/> saying a command word (every variant, clean and noisy), in a seeded order reshuffled on
    /// every pass, each with its embedding (<paramref name="vectors"/>, clip order) and the class the binding gives its word.
    /// </summary>
    /// <exception cref="ArgumentException">No clip of <paramref name="accent"/> says a command word, or the vectors do not match the clips.</exception>
    public static IEnumerator<Sample> Stream(IReadOnlyList<KeywordClip> clips, IReadOnlyList<float[]> vectors, string accent, int concept, int seed)
    {
        ArgumentNullException.ThrowIfNull(clips);
        ArgumentNullException.ThrowIfNull(vectors);
        if (vectors.Count != clips.Count) throw new ArgumentException($"{vectors.Count} embeddings for {clips.Count} clips; embed every clip of the corpus.", nameof(vectors));
        Check(concept);
        var pool = Enumerable.Range(0, clips.Count).Where(i => clips[i].Accent == accent && KeywordRows.IndexOf(Actions, clips[i].Word) >= 0).ToArray();
        if (pool.Length == 0)
            throw new ArgumentException($"The corpus has no clip of voice family '{accent}' saying a command word ({string.Join(", ", Actions)}); use the full corpus (`cl keywords make`).", nameof(accent));
        return Endless(clips, vectors, pool, concept, seed);
    }

    /// <summary>Every vector z-scored per dimension with the mean and standard deviation over all of them (one fixed normaliser for the fleet).</summary>
    public static float[][] Standardise(IReadOnlyList<float[]> vectors)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        if (vectors.Count == 0) return [];
        var width = vectors[0].Length;
        var mean = new double[width];
        var square = new double[width];
        foreach (var v in vectors)
        {
            for (var j = 0; j < width; j++)
            {
                mean[j] += v[j];
                square[j] += (double)v[j] * v[j];
            }
        }
        var scale = new double[width];
        for (var j = 0; j < width; j++)
        {
            mean[j] /= vectors.Count;
            var variance = Math.Max(square[j] / vectors.Count - mean[j] * mean[j], 0);
            // A constant dimension carries nothing: keep it at zero rather than divide by zero.
            scale[j] = variance > 1e-12 ? 1 / Math.Sqrt(variance) : 0;
        }
        return [.. vectors.Select(v => Enumerable.Range(0, width).Select(j => (float)((v[j] - mean[j]) * scale[j])).ToArray())];
    }

    private static IEnumerator<Sample> Endless(IReadOnlyList<KeywordClip> clips, IReadOnlyList<float[]> vectors, int[] pool, int concept, int seed)
    {
        var rng = new Random(seed);
        var order = (int[])pool.Clone();
        while (true)
        {
            rng.Shuffle(order);
            foreach (var i in order) yield return new Sample(vectors[i], Label(concept, clips[i].Word));
        }
    }

    private static int Check(int concept) => concept is >= 1 and <= Concepts ? concept
        : throw new ArgumentOutOfRangeException(nameof(concept), concept, $"Keyword binding concepts are 1–{Concepts}.");
}
