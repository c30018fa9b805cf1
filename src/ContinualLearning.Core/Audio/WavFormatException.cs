using ContinualLearning.Text;

namespace ContinualLearning.Audio;

/// <summary>What was wrong with a WAV payload (<see cref="WavFormatException.Error"/>).</summary>
public enum WavError
{
    /// <summary>The payload does not start with a RIFF/WAVE header.</summary>
    NotRiffWave,

    /// <summary>A size in a header points past the payload, or the payload holds bytes its RIFF header does not declare.</summary>
    SizeMismatch,

    /// <summary>A chunk is malformed: a short or repeated <c>fmt </c>, a header that contradicts itself, a half sample.</summary>
    Malformed,

    /// <summary>No <c>fmt </c> chunk.</summary>
    MissingFormat,

    /// <summary>No <c>data</c> chunk.</summary>
    MissingData,

    /// <summary>The <c>data</c> chunk holds no samples.</summary>
    Empty,

    /// <summary>More samples than the model accepts.</summary>
    TooLong,

    /// <summary>Not integer PCM (IEEE float, A-law, µ-law, ADPCM, a compressed format), or a RIFF variant (RIFX, RF64).</summary>
    UnsupportedEncoding,

    /// <summary>PCM at another sample rate.</summary>
    WrongSampleRate,

    /// <summary>PCM with more than one channel.</summary>
    WrongChannels,

    /// <summary>PCM at another bit depth.</summary>
    WrongBitDepth,
}

/// <summary>
/// A WAV payload was refused by <see cref="WavReader"/>. <see cref="IsUnsupportedMedia"/> separates a well-formed file in
/// another encoding (HTTP 415: convert it) from a broken one (HTTP 400). <see cref="Field"/> names the header field and
/// <see cref="Value"/> what it held; the message says what is expected and what to do.
/// </summary>
public sealed class WavFormatException : FormatException
{
    /// <summary>A refusal without details.</summary>
    public WavFormatException()
    {
    }

    /// <summary>A refusal with a message only.</summary>
    public WavFormatException(string message)
        : base(message)
    {
    }

    /// <summary>A refusal caused by <paramref name="innerException"/>.</summary>
    public WavFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>A refusal of kind <paramref name="error"/> at header <paramref name="field"/>, which held <paramref name="value"/>.</summary>
    public WavFormatException(WavError error, string message, string field, string? value)
        : base(DisplayText.Truncate(message, DisplayText.MessageMaxChars))
    {
        Error = error;
        Field = field;
        Value = DisplayText.Truncate(value);
    }

    /// <summary>What was wrong.</summary>
    public WavError Error { get; }

    /// <summary>The header field or chunk at fault (<c>wav.fmt.sampleRate</c>, <c>wav.data</c>, …).</summary>
    public string? Field { get; }

    /// <summary>What the field held, as text.</summary>
    public string? Value { get; }

    /// <summary>True when the file is well formed but in an encoding the model does not take (415), false when it is broken, empty or too long (400).</summary>
    public bool IsUnsupportedMedia => Error is WavError.UnsupportedEncoding or WavError.WrongSampleRate or WavError.WrongChannels or WavError.WrongBitDepth;
}
