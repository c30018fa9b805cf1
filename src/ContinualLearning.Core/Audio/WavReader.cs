using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using ContinualLearning.Pipelines;

namespace ContinualLearning.Audio;

/// <summary>
/// Reads a RIFF/WAVE payload into the mono PCM an audio model takes (int16-scale floats, <see cref="IInputPipeline"/>).
/// A pure function over the bytes: it accepts exactly PCM16 mono at the model's rate (format tag 1, or
/// WAVE_FORMAT_EXTENSIBLE with the PCM sub-format), skips chunks it does not need (LIST, fact, cue, …; odd sizes padded),
/// and refuses anything else with a <see cref="WavFormatException"/> that says what was found and what is expected.
/// Every size in the file is checked against the payload before it is used, and the only allocation is the returned
/// samples (at most <see cref="AudioInputSpec.MaxSamples"/>, never more than the payload holds).
/// <see cref="ReadStreamedPcm16Mono"/> is the same reader for local tools' output (any rate, unfinished sizes).
/// </summary>
public static class WavReader
{
    /// <summary>The RIFF header: "RIFF", size, "WAVE".</summary>
    public const int RiffHeaderBytes = 12;

    /// <summary>A chunk's id and size.</summary>
    public const int ChunkHeaderBytes = 8;

    /// <summary>
    /// What a payload may hold besides its samples for <see cref="MaxPayloadBytes"/>: the RIFF header, an extensible
    /// <c>fmt </c> chunk (48 bytes), the <c>data</c> header and a few KB of metadata chunks (LIST/INFO, which editors add).
    /// </summary>
    public const int HeaderAllowanceBytes = 4096;

    private const ushort FormatPcm = 1;
    private const ushort FormatExtensible = 0xFFFE;
    private const int FormatMinBytes = 16;
    private const int ExtensibleBytes = 40;

    // The GUID of KSDATAFORMAT_SUBTYPE_PCM after its first two bytes (the format tag): 00000001-0000-0010-8000-00aa00389b71.
    private static ReadOnlySpan<byte> SubFormatSuffix => [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];

    /// <summary>The largest payload a clip of <see cref="AudioInputSpec.MaxSamples"/> needs: its PCM16 bytes plus <see cref="HeaderAllowanceBytes"/>.</summary>
    public static int MaxPayloadBytes(AudioInputSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return checked((spec.MaxSamples * 2) + HeaderAllowanceBytes);
    }

    /// <summary>The accepted format in words, e.g. "PCM16 mono 16,000 Hz".</summary>
    public static string Describe(AudioInputSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return string.Create(CultureInfo.InvariantCulture, $"PCM16 mono {spec.SampleRate:N0} Hz");
    }

    /// <summary>The longest accepted clip in words, e.g. "10 s (160,000 samples)".</summary>
    public static string DescribeLimit(AudioInputSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return string.Create(CultureInfo.InvariantCulture, $"{spec.Seconds(spec.MaxSamples)} s ({spec.MaxSamples:N0} samples)");
    }

    /// <summary>The samples of <paramref name="wav"/> as int16-scale floats (−32768…32767).</summary>
    /// <exception cref="WavFormatException">The payload is not a well-formed WAV in <see cref="Describe"/>'s format, is empty, or holds more than <see cref="AudioInputSpec.MaxSamples"/>.</exception>
    public static float[] ReadPcm16Mono(ReadOnlySpan<byte> wav, AudioInputSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var (format, data) = FindChunks(wav, streamed: false);
        CheckFormat(wav[format], spec);
        return Samples(wav[data], spec);
    }

    /// <summary>
    /// The samples (int16-scale floats) and sample rate of a PCM16 mono WAV at whatever rate it holds: audio a local
    /// program wrote, to be resampled (espeak-ng speaks at 22,050 Hz). The WAV may be streamed: written to a pipe, its
    /// RIFF and <c>data</c> sizes are placeholders past the payload (espeak-ng <c>--stdout</c> declares about 2 GB), and
    /// the samples then run to the end of the payload, whole samples only. Not for what clients send, which
    /// <see cref="ReadPcm16Mono(ReadOnlySpan{byte}, AudioInputSpec)"/> reads.
    /// </summary>
    /// <exception cref="WavFormatException">The payload is not a well-formed PCM16 mono WAV, is empty, or holds more than <paramref name="maxSamples"/>.</exception>
    public static (float[] Samples, int SampleRate) ReadStreamedPcm16Mono(ReadOnlySpan<byte> wav, int maxSamples)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxSamples);
        var (format, data) = FindChunks(wav, streamed: true);
        var fmt = wav[format];
        // The file's own rate becomes the expected one; a zero or short header is still refused by CheckFormat.
        var rate = fmt.Length >= FormatMinBytes ? (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(fmt[4..]), int.MaxValue) : 0;
        var spec = new AudioInputSpec(Math.Max(rate, 1), 1, maxSamples);
        CheckFormat(fmt, spec);
        return (Samples(wav[data], spec), spec.SampleRate);
    }

    // streamed: sizes a writer could not go back and fill in (a RIFF size past the payload, a last data chunk running
    // past it) mean "to the end of the payload".
    private static (Range Format, Range Data) FindChunks(ReadOnlySpan<byte> wav, bool streamed)
    {
        if (wav.IsEmpty) throw new WavFormatException(WavError.Empty, "The WAV body is empty; send a RIFF/WAVE file.", "wav", "0 bytes");
        var magic = wav[..Math.Min(4, wav.Length)];
        if (magic.SequenceEqual("RIFX"u8) || magic.SequenceEqual("RF64"u8))
        {
            var variant = magic[1] == (byte)'I' ? "RIFX (big-endian)" : "RF64 (64-bit sizes)";
            throw new WavFormatException(WavError.UnsupportedEncoding, $"The file is a {variant} WAV; only little-endian RIFF/WAVE is accepted. Write it as a plain WAV.", "wav.riff", FourCc(magic));
        }
        if (!magic.SequenceEqual("RIFF"u8))
            throw new WavFormatException(WavError.NotRiffWave, "The body is not a WAV file: it does not start with \"RIFF\". Send a RIFF/WAVE file.", "wav.riff", FourCc(magic));
        if (wav.Length < RiffHeaderBytes)
            throw new WavFormatException(WavError.SizeMismatch, Invariant($"The RIFF header is cut after {wav.Length} bytes ({RiffHeaderBytes} needed): the file is truncated."), "wav.riff", Invariant($"{wav.Length} bytes"));
        if (!wav[8..12].SequenceEqual("WAVE"u8))
            throw new WavFormatException(WavError.NotRiffWave, "The RIFF file is not a WAVE file (its form type is not \"WAVE\"). Send a RIFF/WAVE file.", "wav.riff.form", FourCc(wav[8..12]));

        var riffSize = BinaryPrimitives.ReadUInt32LittleEndian(wav[4..]);
        var end = 8L + riffSize;
        if (streamed && end > wav.Length) end = wav.Length;
        if (end != wav.Length)
        {
            var what = end > wav.Length ? "the file is truncated or the size is wrong" : "bytes follow the RIFF chunk";
            throw new WavFormatException(WavError.SizeMismatch, Invariant($"The RIFF header declares {riffSize:N0} bytes after its first 8, but the body holds {wav.Length - 8:N0}: {what}. A streamed WAV written without its final sizes is not accepted; send the finished file."), "wav.riff.size", Invariant($"{riffSize}"));
        }

        Range? format = null, data = null;
        var position = RiffHeaderBytes;
        while (position < end)
        {
            var left = (int)(end - position);
            if (left < ChunkHeaderBytes)
                throw new WavFormatException(WavError.SizeMismatch, Invariant($"A chunk header at offset {position:N0} is cut: {left} bytes left, {ChunkHeaderBytes} needed."), "wav.chunk", Invariant($"{left} bytes"));
            var id = wav.Slice(position, 4);
            var size = BinaryPrimitives.ReadUInt32LittleEndian(wav[(position + 4)..]);
            var body = position + ChunkHeaderBytes;
            var toTheEnd = streamed && size > end - body && id.SequenceEqual("data"u8);
            if (toTheEnd) size = (uint)(end - body) & ~1u;
            if (size > end - body)
                throw new WavFormatException(WavError.SizeMismatch, Invariant($"Chunk \"{FourCc(id)}\" at offset {position:N0} declares {size:N0} bytes, but only {end - body:N0} remain: the file is truncated or the size is wrong."), Invariant($"wav.{ChunkName(id)}.size"), Invariant($"{size}"));
            var chunk = new Range(body, body + (int)size);
            if (id.SequenceEqual("fmt "u8))
            {
                if (format is not null) throw new WavFormatException(WavError.Malformed, Invariant($"A second \"fmt \" chunk at offset {position:N0}: a WAV has one."), "wav.fmt", null);
                format = chunk;
            }
            else if (id.SequenceEqual("data"u8))
            {
                if (data is not null) throw new WavFormatException(WavError.Malformed, Invariant($"A second \"data\" chunk at offset {position:N0}: a WAV has one."), "wav.data", null);
                data = chunk;
            }
            // Chunks are word-aligned: an odd size is followed by a pad byte, which writers sometimes leave off the last chunk.
            position = toTheEnd ? (int)end : body + (int)size + (int)(size & 1);
        }
        if (format is not { } f) throw new WavFormatException(WavError.MissingFormat, "The WAV has no \"fmt \" chunk, so its encoding is unknown; send a complete RIFF/WAVE file.", "wav.fmt", null);
        if (data is not { } d) throw new WavFormatException(WavError.MissingData, "The WAV has no \"data\" chunk: it holds no audio.", "wav.data", null);
        return (f, d);
    }

    private static void CheckFormat(ReadOnlySpan<byte> fmt, AudioInputSpec spec)
    {
        if (fmt.Length < FormatMinBytes)
            throw new WavFormatException(WavError.Malformed, Invariant($"The \"fmt \" chunk is {fmt.Length} bytes; it needs at least {FormatMinBytes}."), "wav.fmt.size", Invariant($"{fmt.Length}"));
        var tag = BinaryPrimitives.ReadUInt16LittleEndian(fmt);
        var channels = BinaryPrimitives.ReadUInt16LittleEndian(fmt[2..]);
        var rate = BinaryPrimitives.ReadUInt32LittleEndian(fmt[4..]);
        var byteRate = BinaryPrimitives.ReadUInt32LittleEndian(fmt[8..]);
        var blockAlign = BinaryPrimitives.ReadUInt16LittleEndian(fmt[12..]);
        var bits = BinaryPrimitives.ReadUInt16LittleEndian(fmt[14..]);
        var expected = Describe(spec);
        if (tag == FormatExtensible)
        {
            if (fmt.Length < ExtensibleBytes || BinaryPrimitives.ReadUInt16LittleEndian(fmt[16..]) < ExtensibleBytes - 18)
                throw new WavFormatException(WavError.Malformed, Invariant($"The \"fmt \" chunk says WAVE_FORMAT_EXTENSIBLE but is {fmt.Length} bytes; it needs {ExtensibleBytes} with a 22-byte extension."), "wav.fmt.size", Invariant($"{fmt.Length}"));
            var subFormat = fmt.Slice(24, 16);
            tag = BinaryPrimitives.ReadUInt16LittleEndian(subFormat);
            if (!subFormat[2..].SequenceEqual(SubFormatSuffix))
                throw new WavFormatException(WavError.UnsupportedEncoding, $"The WAV's extensible sub-format {new Guid(subFormat)} is not a standard one; this model takes {expected}.", "wav.fmt.subFormat", new Guid(subFormat).ToString());
        }
        if (tag != FormatPcm)
            throw new WavFormatException(WavError.UnsupportedEncoding, $"The WAV is {EncodingName(tag)}; this model takes {expected}. {Convert(spec)}", "wav.fmt.formatTag", Invariant($"{tag}"));
        if (channels == 0 || rate == 0 || bits == 0)
            throw new WavFormatException(WavError.Malformed, Invariant($"The \"fmt \" chunk declares {channels} channels, {rate} Hz, {bits} bits: not a playable format."), "wav.fmt", Invariant($"{channels} ch, {rate} Hz, {bits} bits"));
        var found = Invariant($"PCM {bits}-bit {ChannelName(channels)} {rate:N0} Hz");
        if (bits != 16) Unsupported(WavError.WrongBitDepth, "wav.fmt.bitsPerSample", Invariant($"{bits}"));
        if (channels != 1) Unsupported(WavError.WrongChannels, "wav.fmt.channels", Invariant($"{channels}"));
        if (rate != spec.SampleRate) Unsupported(WavError.WrongSampleRate, "wav.fmt.sampleRate", Invariant($"{rate}"));
        if (blockAlign != 2 || byteRate != rate * 2)
            throw new WavFormatException(WavError.Malformed, Invariant($"The \"fmt \" chunk contradicts itself: PCM16 mono at {rate:N0} Hz has blockAlign 2 and byteRate {rate * 2:N0}, but it declares {blockAlign} and {byteRate:N0}."),
                blockAlign != 2 ? "wav.fmt.blockAlign" : "wav.fmt.byteRate", Invariant($"{(blockAlign != 2 ? blockAlign : byteRate)}"));

        void Unsupported(WavError error, string field, string value) =>
            throw new WavFormatException(error, $"The WAV is {found}; this model takes {expected}. {Convert(spec)}", field, value);
    }

    private static float[] Samples(ReadOnlySpan<byte> data, AudioInputSpec spec)
    {
        if (data.IsEmpty) throw new WavFormatException(WavError.Empty, "The WAV's \"data\" chunk is empty: send a clip with at least one sample.", "wav.data", "0 bytes");
        if (data.Length % 2 != 0)
            throw new WavFormatException(WavError.Malformed, Invariant($"The \"data\" chunk holds {data.Length:N0} bytes: not a whole number of 16-bit samples."), "wav.data.size", Invariant($"{data.Length}"));
        var count = data.Length / 2;
        if (count > spec.MaxSamples)
            throw new WavFormatException(WavError.TooLong, Invariant($"The clip is {spec.Seconds(count)} s ({count:N0} samples); this model takes at most {DescribeLimit(spec)}. Cut it or send it in parts."), "wav.data", Invariant($"{count} samples"));
        var samples = new float[count];
        for (var i = 0; i < samples.Length; i++) samples[i] = BinaryPrimitives.ReadInt16LittleEndian(data[(2 * i)..]);
        return samples;
    }

    private static string Convert(AudioInputSpec spec) => Invariant($"Convert it first, e.g. `sox in.wav -r {spec.SampleRate} -c 1 -b 16 -e signed-integer out.wav`.");

    private static string EncodingName(ushort tag) => tag switch
    {
        2 => "Microsoft ADPCM (format tag 2)",
        3 => "IEEE float (format tag 3)",
        6 => "A-law (format tag 6)",
        7 => "µ-law (format tag 7)",
        0x11 => "IMA ADPCM (format tag 17)",
        0x50 => "MPEG audio (format tag 80)",
        0x55 => "MPEG layer 3 (format tag 85)",
        _ => Invariant($"format tag {tag} (0x{tag:X4})"),
    };

    private static string ChannelName(int channels) => channels switch
    {
        1 => "mono",
        2 => "stereo",
        _ => Invariant($"{channels}-channel"),
    };

    // A chunk id as text when it is printable ASCII (fmt, LIST, data), as hex otherwise.
    private static string FourCc(ReadOnlySpan<byte> id)
    {
        foreach (var b in id)
            if (b is < 0x20 or > 0x7E) return "0x" + System.Convert.ToHexString(id);
        return Encoding.ASCII.GetString(id);
    }

    private static string ChunkName(ReadOnlySpan<byte> id) => FourCc(id).Trim();

    private static string Invariant(FormattableString text) => FormattableString.Invariant(text);
}
