namespace ContinualLearning.Cli.Commands;

/// <summary>A batch of labelled rows: row-major features and class indices.</summary>
internal sealed record LabelledBatch(float[] X, int[] Y)
{
    public int Count => Y.Length;
}

/// <summary>
/// Gaussian clusters around one random prototype per class; after the drift half of the classes move to new
/// prototypes (a real concept drift: the same label, different inputs), so a model must adapt without forgetting the rest.
/// </summary>
internal sealed class DriftingPrototypes
{
    private readonly float[][] _before;
    private readonly float[][] _after;
    private readonly Random _rng;
    private readonly int _dims;

    public DriftingPrototypes(int dims, int classes, int seed)
    {
        _dims = dims;
        _rng = new Random(seed);
        _before = Enumerable.Range(0, classes).Select(_ => Prototype()).ToArray();
        _after = _before.Select((p, c) => c % 2 == 0 ? Prototype() : p).ToArray();
    }

    public LabelledBatch Next(int count, bool drifted)
    {
        var prototypes = drifted ? _after : _before;
        var x = new float[count * _dims];
        var y = new int[count];
        for (var i = 0; i < count; i++)
        {
            y[i] = _rng.Next(prototypes.Length);
            for (var d = 0; d < _dims; d++) x[i * _dims + d] = prototypes[y[i]][d] + 0.8f * Gaussian();
        }
        return new LabelledBatch(x, y);
    }

    // Prototypes at distance ~sqrt(dims) apart keep classes separable but not trivially so at any width.
    private float[] Prototype() => Enumerable.Range(0, _dims).Select(_ => Gaussian() * 0.35f).ToArray();

    private float Gaussian() => (float)(Math.Sqrt(-2 * Math.Log(1 - _rng.NextDouble())) * Math.Cos(2 * Math.PI * _rng.NextDouble()));
}
