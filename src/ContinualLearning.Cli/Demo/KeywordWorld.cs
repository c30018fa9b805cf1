using System.Globalization;
using ContinualLearning.Bundle;
using ContinualLearning.Experiments.Keywords;
using ContinualLearning.Learning;
using ContinualLearning.Onnx;
using ContinualLearning.Pipelines;
using ContinualLearning.Streams;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Cli.Demo;

/// <summary>
/// <c>cl demo --scenario keywords</c>: ten spoken keywords from the espeak-ng corpus (clean and noisy clips), raw
/// 16 kHz audio through the bundle's speech pipeline. The base model knows one voice family (British English); every
/// device hears one other family and learns it locally; the held-out set is two families that neither the base model
/// nor any device ever heard (the two the base model handles worst), so a better fleet release there means what the
/// devices learned carries over to unseen voices.
/// </summary>
internal sealed class KeywordWorld : IDemoWorld
{
    /// <summary>Voice families (espeak-ng accents) the base model is trained on.</summary>
    public static IReadOnlyList<string> BaseFamilies { get; } = ["en-gb"];

    /// <summary>One voice family per device, in device order.</summary>
    public static IReadOnlyList<string> DeviceFamilies { get; } = ["en-gb-scotland", "en-us", "en-gb-x-rp", "en-gb-x-gbclan", "en-us-nyc"];

    /// <summary>Voice families no model ever trains on: the held-out set.</summary>
    public static IReadOnlyList<string> HeldOutFamilies { get; } = ["en-029", "en-gb-x-gbcwmd"];

    /// <summary>
    /// The demo's slice of the keyword corpus: the ten base keywords, every accent above, all twelve voice variants,
    /// one take each plus one noisy copy. The generator's draws depend only on the seed and the clip, so these clips
    /// are the same as in the full corpus.
    /// </summary>
    public static KeywordCorpusSpec CorpusSpec { get; } = new()
    {
        Words = new KeywordCorpusSpec().Words.Take(10).ToArray(),
        Accents = [.. BaseFamilies, .. DeviceFamilies, .. HeldOutFamilies],
        Takes = 1,
        NoisyCopies = 1,
    };

    /// <summary>Clips of one voice family in <see cref="CorpusSpec"/>.</summary>
    public static int MaxClipsPerDevice => CorpusSpec.Words.Count * CorpusSpec.Variants.Count * CorpusSpec.Takes * (1 + CorpusSpec.NoisyCopies);

    /// <summary>Where the corpus is kept between runs ($CL_KEYWORDS_DEMO_DIR, else a folder in the temp directory).</summary>
    public static string CorpusDirectory =>
        Environment.GetEnvironmentVariable("CL_KEYWORDS_DEMO_DIR") is { Length: > 0 } dir ? dir : Path.Combine(Path.GetTempPath(), "cl-demo-keywords");

    private readonly DemoOptions _options;
    private readonly KeywordCorpus _corpus;
    private readonly string[] _words;
    private IInputPipeline? _pipeline;
    private ModelManifest? _manifest;
    private (float[] X, int[] Y)? _heldOut;

    private KeywordWorld(DemoOptions options, KeywordCorpus corpus)
    {
        _options = options;
        _corpus = corpus;
        _words = [.. CorpusSpec.Words];
        Shards = Enumerable.Range(0, options.Devices).Select(MakeShard).ToArray();
    }

    /// <summary>Generates (or finds) the corpus slice; the base model is trained by <see cref="SaveBase"/>.</summary>
    public static Task<IDemoWorld> CreateAsync(DemoOptions options, Action<string> log, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(log);
        return Task.Run<IDemoWorld>(() =>
        {
            var clips = CorpusSpec.Accents.Count * MaxClipsPerDevice;
            log(string.Create(CultureInfo.InvariantCulture, $"keyword corpus: {clips} clips of {CorpusSpec.Words.Count} words in {CorpusSpec.Accents.Count} voice families in {CorpusDirectory} (espeak-ng; made once, then reused)"));
            var result = KeywordCorpusGenerator.Generate(CorpusDirectory, CorpusSpec, Math.Max(1, Environment.ProcessorCount));
            if (result.Generated) log(string.Create(CultureInfo.InvariantCulture, $"keyword corpus generated in {result.Elapsed.TotalSeconds:0.0} s"));
            ct.ThrowIfCancellationRequested();
            return new KeywordWorld(options, result.Corpus);
        }, ct);
    }

    public string Description => $"spoken keywords ({string.Join(", ", _words)}; espeak-ng, clean and noisy clips, raw 16 kHz audio through the speech pipeline): "
        + $"base trained on voices {string.Join(", ", BaseFamilies)}; each device hears its own voice family ({string.Join(", ", Shards.Select(s => $"{s.DeviceId} {s.Voice}"))})";

    public string HeldOutDescription => $"clips of voice families neither the base model nor any device trained on: {string.Join(", ", HeldOutFamilies)}";

    public string HeldOutUnit => "clips of unseen voices";

    public HeadSpec Head => Manifest.Head;

    private ModelManifest Manifest => _manifest ?? throw new InvalidOperationException("The keyword base model is made by SaveBase.");

    public IReadOnlyList<DeviceShard> Shards { get; }

    public int ReplayCapacity => 400;

    // The demo's run cadence and promotion rule; smaller batches, more passes and more replay for a few dozen clips per run.
    public ChallengerOptions Challenger(DemoOptions o, string deviceId) =>
        DemoScenario.Challenger(o, deviceId) with { BatchSize = 16, Epochs = 5, ReplayRatio = 0.5 };

    public string SaveBase(string directory, ITrainingEngine engine, Func<ModelManifest, string> sign)
    {
        // The keyword experiment's base model: the speech pipeline and a head trained on the clean clips of the base
        // voices, embedded by the bundle's own pipeline.
        var result = KeywordBaseModel.Create(_corpus, [.. BaseFamilies], _words, directory, seed: _options.Seed, name: _options.ModelName,
            version: DemoScenario.BaseVersion, sign: m => sign(m));
        _manifest = result.Manifest;
        _pipeline = InputPipelineFactory.Create(ModelBundle.Load(directory));
        return string.Create(CultureInfo.InvariantCulture,
            $"base model {_options.ModelName} {DemoScenario.BaseVersion}: speech pipeline (mel → embedding → pool) and head {Head} trained on {result.TrainClips} clean clips of voices {string.Join(", ", BaseFamilies)}");
    }

    public int HeldOutSamples => HeldOut.Y.Length;

    public double Accuracy(ITrainingEngine engine, IReadOnlyList<NamedTensor> weights) =>
        HeldOutScoring.Accuracy(engine, Head, Manifest.Training, weights, HeldOut.X, HeldOut.Y);

    private (float[] X, int[] Y) HeldOut => _heldOut ??= Embed(Clips(HeldOutFamilies));

    public void Dispose() => _pipeline?.Dispose();

    private DeviceShard MakeShard(int i)
    {
        var family = DeviceFamilies[i];
        // Each device hears its family's clips in its own order, as a person would say them over the day.
        var clips = Clips([family]).ToArray();
        new Random(_options.Seed * 1000 + 17 * (i + 1)).Shuffle(clips);
        var take = clips.Take(_options.SamplesPerDevice).ToArray();
        var schema = new StreamSchema(["pcm"], _words);
        var stream = new DelegateStream(schema, () => take.Select(c => new Sample(Read(c), Label(c))));
        var (poisoned, canary) = DemoScenario.Role(_options, i);
        return new DeviceShard(DemoScenario.DeviceId(i), stream, 0, 0, 0, poisoned, canary, Voice: family);
    }

    private IEnumerable<KeywordClip> Clips(IReadOnlyList<string> families) =>
        _corpus.Clips.Where(c => families.Contains(c.Accent, StringComparer.Ordinal) && _words.Contains(c.Word, StringComparer.Ordinal));

    private int Label(KeywordClip clip) => Array.IndexOf(_words, clip.Word);

    private float[] Read(KeywordClip clip) => _corpus.Read(clip);

    private (float[] X, int[] Y) Embed(IEnumerable<KeywordClip> clips)
    {
        var pipeline = _pipeline ?? throw new InvalidOperationException("The speech pipeline is made by SaveBase.");
        var list = clips.ToArray();
        var d = pipeline.OutputSize;
        var x = new float[list.Length * d];
        var y = new int[list.Length];
        for (var i = 0; i < list.Length; i++)
        {
            pipeline.Embed(Read(list[i]), x.AsSpan(i * d, d));
            y[i] = Label(list[i]);
        }
        return (x, y);
    }
}
