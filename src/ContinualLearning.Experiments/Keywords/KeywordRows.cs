namespace ContinualLearning.Experiments.Keywords;

/// <summary>One seed's split of the embedded corpus into labelled rows.</summary>
internal sealed class KeywordRows
{
    private readonly KeywordEmbeddings _embeddings;
    private readonly ClipRole[] _roles;
    private readonly HashSet<string> _baseFamilies;
    private readonly KeywordOptions _options;

    public KeywordRows(KeywordEmbeddings embeddings, KeywordOptions options, int seed)
    {
        _embeddings = embeddings;
        _options = options;
        _baseFamilies = options.BaseFamilies.ToHashSet(StringComparer.Ordinal);
        _roles = KeywordSplit.Assign(embeddings.Corpus, _baseFamilies, seed);
        NewFamilies = [.. embeddings.Corpus.Clips.Select(c => c.Accent).Distinct().Where(a => !_baseFamilies.Contains(a)).Order(StringComparer.Ordinal)];
        Width = embeddings.Vector(0, options.Pool).Length;
    }

    public IReadOnlyList<string> NewFamilies { get; }

    public int Width { get; }

    /// <summary>A voice the base model knows: a base family and, when <see cref="KeywordOptions.BaseVariants"/> is set, one of those variants.</summary>
    public bool IsBase(KeywordClip clip) => _baseFamilies.Contains(clip.Accent) && (_options.BaseVariants.Count == 0 || _options.BaseVariants.Contains(clip.Variant));

    /// <summary>The voices of a new family: its accent and, when base variants are restricted, only the other variants.</summary>
    public Func<KeywordClip, bool> NewFamily(string accent) =>
        c => c.Accent == accent && (_options.BaseVariants.Count == 0 || !_options.BaseVariants.Contains(c.Variant));

    /// <summary>Any new family's voices.</summary>
    public bool IsNew(KeywordClip clip) => NewFamilies.Contains(clip.Accent) && NewFamily(clip.Accent)(clip);

    /// <summary>Rows of clips with this role, cleanliness and voice; the label is the word's index in <paramref name="labels"/>.</summary>
    public List<LabelledRow> Rows(ClipRole role, bool clean, Func<KeywordClip, bool> voice, IReadOnlyList<string> labels, IReadOnlyList<string>? onlyFrom = null)
    {
        var rows = new List<LabelledRow>();
        var clips = _embeddings.Corpus.Clips;
        for (var i = 0; i < clips.Count; i++)
        {
            var c = clips[i];
            if (_roles[i] != role || c.IsClean != clean || !voice(c)) continue;
            if (onlyFrom is not null && !onlyFrom.Contains(c.Word)) continue;
            var label = IndexOf(labels, c.Word);
            if (label >= 0) rows.Add(new LabelledRow(_embeddings.Vector(i, _options.Pool), label));
        }
        return rows;
    }

    /// <summary>Position of <paramref name="word"/> in <paramref name="labels"/>, or −1.</summary>
    internal static int IndexOf(IReadOnlyList<string> labels, string word)
    {
        for (var i = 0; i < labels.Count; i++)
            if (labels[i] == word) return i;
        return -1;
    }
}
