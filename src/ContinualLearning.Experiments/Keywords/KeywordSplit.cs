namespace ContinualLearning.Experiments.Keywords;

/// <summary>What a clean clip (and its noisy copies) is used for in one seed's run.</summary>
internal enum ClipRole
{
    /// <summary>Base model training (base families only).</summary>
    BaseTrain,

    /// <summary>The pool a device's labelled clips are drawn from.</summary>
    Adapt,

    /// <summary>Held out: scored, never trained on.</summary>
    Test,
}

/// <summary>
/// Assigns every clip a role per seed. The unit is the clean clip's identity (word, accent, variant, take), so a noisy
/// copy always shares its clean clip's role and no test clip has a near-duplicate in training. Per word and accent, the
/// identities are shuffled; in a base family half train the base model, a quarter form the device pool and a quarter
/// are held out; in a new family up to <see cref="NewFamilyAdapt"/> form the device pool and the rest are held out.
/// </summary>
internal static class KeywordSplit
{
    /// <summary>Device-pool clips per word in a new voice family (the largest k a scenario asks for).</summary>
    public const int NewFamilyAdapt = 10;

    /// <summary>The role of each clip of <paramref name="corpus"/> (manifest order).</summary>
    public static ClipRole[] Assign(KeywordCorpus corpus, IReadOnlyCollection<string> baseFamilies, int seed)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(baseFamilies);
        var roleOf = new Dictionary<(string, string, string, int), ClipRole>();
        foreach (var group in corpus.Clips.Where(c => c.IsClean).GroupBy(c => (c.Word, c.Accent)).OrderBy(g => g.Key.Word, StringComparer.Ordinal).ThenBy(g => g.Key.Accent, StringComparer.Ordinal))
        {
            var ids = group.Select(c => (c.Word, c.Accent, c.Variant, c.Take)).ToArray();
            new Random(KeywordCorpusPlan.ClipSeed(seed, $"split|{group.Key.Word}|{group.Key.Accent}")).Shuffle(ids);
            int train, adapt;
            if (baseFamilies.Contains(group.Key.Accent))
            {
                train = ids.Length / 2;
                adapt = (ids.Length - train) / 2;
            }
            else
            {
                train = 0;
                adapt = Math.Min(NewFamilyAdapt, ids.Length / 2);
            }
            for (var i = 0; i < ids.Length; i++)
                roleOf[ids[i]] = i < train ? ClipRole.BaseTrain : i < train + adapt ? ClipRole.Adapt : ClipRole.Test;
        }
        return [.. corpus.Clips.Select(c => roleOf[(c.Word, c.Accent, c.Variant, c.Take)])];
    }
}
