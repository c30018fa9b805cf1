using System.Text;

namespace ContinualLearning.Experiments.Keywords;

/// <summary>A noisy copy to make of a clean clip.</summary>
internal sealed record PlannedNoise(NoiseKind Kind, double SnrDb, int Seed);

/// <summary>A clean clip to speak, with its per-clip draws, and its noisy copies.</summary>
internal sealed record PlannedClip(string Word, string Accent, string Variant, int Take, int Speed, int Pitch, double GainDb, double Jitter, IReadOnlyList<PlannedNoise> Noisy);

/// <summary>
/// The clips a spec asks for, in manifest order (word, accent, variant, take). Each clip's draws come from a
/// generator seeded by a stable hash of the corpus seed and the clip's identity — not from one shared sequence —
/// so a clip is the same in every spec that contains it.
/// </summary>
internal static class KeywordCorpusPlan
{
    public static IReadOnlyList<PlannedClip> Clips(KeywordCorpusSpec spec)
    {
        var result = new List<PlannedClip>();
        foreach (var word in spec.Words)
        foreach (var accent in spec.Accents)
        foreach (var variant in spec.Variants)
        for (var take = 0; take < spec.Takes; take++)
        {
            var rng = new Random(ClipSeed(spec.Seed, $"{word}|{accent}|{variant}|{take}"));
            var speed = rng.Next(spec.SpeedMin, spec.SpeedMax + 1);
            var pitch = rng.Next(spec.PitchMin, spec.PitchMax + 1);
            var gain = Math.Round(spec.GainDbMin + rng.NextDouble() * (spec.GainDbMax - spec.GainDbMin), 2);
            var jitter = 2 * rng.NextDouble() - 1;
            var noisy = new PlannedNoise[spec.NoisyCopies];
            for (var c = 0; c < noisy.Length; c++)
                noisy[c] = new PlannedNoise(spec.Noises[rng.Next(spec.Noises.Count)], spec.SnrDb[rng.Next(spec.SnrDb.Count)], rng.Next());
            result.Add(new PlannedClip(word, accent, variant, take, speed, pitch, gain, jitter, noisy));
        }
        return result;
    }

    /// <summary>FNV-1a (64-bit) of the seed and key, folded to an int: stable across processes, unlike string.GetHashCode.</summary>
    internal static int ClipSeed(int seed, string key)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes($"{seed}|{key}"))
        {
            hash ^= b;
            hash *= 1099511628211UL;
        }
        return (int)(hash ^ (hash >> 32)) & int.MaxValue;
    }
}
