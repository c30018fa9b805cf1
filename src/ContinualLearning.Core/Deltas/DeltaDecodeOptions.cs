namespace ContinualLearning.Deltas;

/// <summary>Limits and expectations applied while decoding an untrusted delta.</summary>
public sealed record DeltaDecodeOptions
{
    /// <summary>Payloads larger than this are rejected before any parsing. Default 64 MiB.</summary>
    public int MaxPayloadBytes { get; init; } = 64 * 1024 * 1024;

    /// <summary>Upper bound on tensors per delta.</summary>
    public int MaxTensors { get; init; } = 4096;

    /// <summary>Upper bound on metrics per delta.</summary>
    public int MaxMetrics { get; init; } = 64;

    /// <summary>
    /// When set, the delta must carry exactly these tensors (by name) with these shapes; e.g. <c>HeadSpec.Parameters()</c>.
    /// </summary>
    public IReadOnlyList<(string Name, int[] Shape)>? ExpectedTensors { get; init; }
}
