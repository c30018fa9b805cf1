using System.Diagnostics.CodeAnalysis;

namespace ContinualLearning.Deltas;

/// <summary>How the values of one tensor delta are stored on the wire. The byte values are part of the format.</summary>
public enum DeltaEncoding : byte
{
    /// <summary>Signed 8-bit integers times a per-tensor scale (scale = max|v| / 127).</summary>
    [SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "The member names the wire data type of the encoding (int8, fp16, fp32), as docs/protocol.md does.")]
    Int8 = 1,

    /// <summary>IEEE half precision (System.Half) times a power-of-two per-tensor scale.</summary>
    Float16 = 2,

    /// <summary>Uncompressed IEEE single precision; the scale is 1. For comparison and debugging.</summary>
    [SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "The member names the wire data type of the encoding (int8, fp16, fp32), as docs/protocol.md does.")]
    Float32 = 3,
}

/// <summary>Whether a tensor delta lists the indices of its values.</summary>
public enum DeltaLayout : byte
{
    /// <summary>Every element is present, in row-major order; no indices on the wire.</summary>
    Dense = 0,

    /// <summary>Only <c>count</c> elements are present; their strictly increasing flat indices are sent as LEB128 gaps.</summary>
    Sparse = 1,
}
