using ContinualLearning.Audio;
using ContinualLearning.Pipelines;
using static ContinualLearning.UnitTests.Audio.WavBytes;

namespace ContinualLearning.UnitTests.Audio;

public sealed class WavReaderTests
{
    private static readonly AudioInputSpec Spec = new(SampleRate: 16_000, MinSamples: 16_000, MaxSamples: 8_000);
    private static readonly short[] Pcm = [0, 1, -1, short.MaxValue, short.MinValue, 1234, -4321];

    // Every refusal: the bytes, what kind of error, whether it is a 415, and the field named.
    private static readonly Dictionary<string, (byte[] Wav, WavError Error, bool Unsupported, string Field)> Bad = new(StringComparer.Ordinal)
    {
        ["empty body"] = ([], WavError.Empty, false, "wav"),
        ["ogg"] = ("OggS\0\u0002\0\0\0\0\0\0"u8.ToArray(), WavError.NotRiffWave, false, "wav.riff"),
        ["json"] = ("{\"features\":[1,2,3]}"u8.ToArray(), WavError.NotRiffWave, false, "wav.riff"),
        ["riff avi"] = (Riff([Fmt(), Data(Pcm)], form: "AVI "), WavError.NotRiffWave, false, "wav.riff.form"),
        ["rifx"] = (Riff([Fmt(), Data(Pcm)], magic: "RIFX"), WavError.UnsupportedEncoding, true, "wav.riff"),
        ["rf64"] = (Riff([Fmt(), Data(Pcm)], magic: "RF64"), WavError.UnsupportedEncoding, true, "wav.riff"),
        ["riff header cut"] = ("RIFF\u0004\0\0\0WA"u8.ToArray(), WavError.SizeMismatch, false, "wav.riff"),
        ["riff size beyond the body"] = (Riff([Fmt(), Data(Pcm)], riffSize: 1_000_000), WavError.SizeMismatch, false, "wav.riff.size"),
        ["riff size short of the body"] = (Riff([Fmt(), Data(Pcm)], riffSize: 40), WavError.SizeMismatch, false, "wav.riff.size"),
        ["riff size wraps"] = (Riff([Fmt(), Data(Pcm)], riffSize: uint.MaxValue), WavError.SizeMismatch, false, "wav.riff.size"),
        ["data size beyond the body"] = (Riff(Fmt(), Chunk("data", new byte[14], size: 900_000_000)), WavError.SizeMismatch, false, "wav.data.size"),
        ["list size beyond the body"] = (Riff(Fmt(), Chunk("LIST", new byte[4], size: uint.MaxValue), Data(Pcm)), WavError.SizeMismatch, false, "wav.LIST.size"),
        ["chunk header cut"] = (Riff(Fmt(), Data(Pcm), "dat"u8.ToArray()), WavError.SizeMismatch, false, "wav.chunk"),
        ["no fmt"] = (Riff(Data(Pcm)), WavError.MissingFormat, false, "wav.fmt"),
        ["no data"] = (Riff(Fmt(), Chunk("LIST", new byte[6])), WavError.MissingData, false, "wav.data"),
        ["no chunks"] = (Riff(), WavError.MissingFormat, false, "wav.fmt"),
        ["fmt too short"] = (Riff(Chunk("fmt ", new byte[14]), Data(Pcm)), WavError.Malformed, false, "wav.fmt.size"),
        ["two fmt"] = (Riff(Fmt(), Fmt(), Data(Pcm)), WavError.Malformed, false, "wav.fmt"),
        ["two data"] = (Riff(Fmt(), Data(Pcm), Data(Pcm)), WavError.Malformed, false, "wav.data"),
        ["extensible too short"] = (Riff(Chunk("fmt ", Fmt(0xFFFE).AsSpan(8, 16).ToArray()), Data(Pcm)), WavError.Malformed, false, "wav.fmt.size"),
        ["block align lies"] = (Riff(Fmt(blockAlign: 4), Data(Pcm)), WavError.Malformed, false, "wav.fmt.blockAlign"),
        ["byte rate lies"] = (Riff(Fmt(byteRate: 16_000), Data(Pcm)), WavError.Malformed, false, "wav.fmt.byteRate"),
        ["zero channels"] = (Riff(Fmt(channels: 0, blockAlign: 2), Data(Pcm)), WavError.Malformed, false, "wav.fmt"),
        ["ieee float"] = (Riff(Fmt(tag: 3, bits: 32), Data(Pcm)), WavError.UnsupportedEncoding, true, "wav.fmt.formatTag"),
        ["mu-law"] = (Riff(Fmt(tag: 7, bits: 8), Data(Pcm)), WavError.UnsupportedEncoding, true, "wav.fmt.formatTag"),
        ["mp3"] = (Riff(Fmt(tag: 0x55), Data(Pcm)), WavError.UnsupportedEncoding, true, "wav.fmt.formatTag"),
        ["extensible float"] = (Riff(FmtExtensible(subTag: 3, bits: 32), Data(Pcm)), WavError.UnsupportedEncoding, true, "wav.fmt.formatTag"),
        ["extensible foreign guid"] = (Riff(FmtExtensible(standardGuid: false), Data(Pcm)), WavError.UnsupportedEncoding, true, "wav.fmt.subFormat"),
        ["stereo"] = (Riff(Fmt(channels: 2), Data(Pcm)), WavError.WrongChannels, true, "wav.fmt.channels"),
        ["44.1 kHz"] = (Riff(Fmt(rate: 44_100), Data(Pcm)), WavError.WrongSampleRate, true, "wav.fmt.sampleRate"),
        ["8 bit"] = (Riff(Fmt(bits: 8), Data(Pcm)), WavError.WrongBitDepth, true, "wav.fmt.bitsPerSample"),
        ["24 bit"] = (Riff(Fmt(bits: 24), Data(Pcm)), WavError.WrongBitDepth, true, "wav.fmt.bitsPerSample"),
        ["empty data"] = (Riff(Fmt(), Data([])), WavError.Empty, false, "wav.data"),
        ["half a sample"] = (Riff(Fmt(), Chunk("data", [1, 2, 3])), WavError.Malformed, false, "wav.data.size"),
        ["one sample too many"] = (Riff(Fmt(), Data(new short[Spec.MaxSamples + 1])), WavError.TooLong, false, "wav.data"),
    };

    public static TheoryData<string> BadCases => [.. Bad.Keys];

    [Fact]
    public void Reads_the_canonical_file_WavWriter_writes_sample_for_sample()
    {
        var wav = WavWriter.Pcm16Mono(Pcm, 16_000);

        var samples = WavReader.ReadPcm16Mono(wav, Spec);

        Assert.Equal(WavWriter.HeaderBytes + (2 * Pcm.Length), wav.Length);
        Assert.Equal(Pcm.Select(s => (float)s), samples);
    }

    [Fact]
    public void Reads_wave_format_extensible_with_the_PCM_sub_format()
    {
        Assert.Equal(Pcm.Select(s => (float)s), WavReader.ReadPcm16Mono(Riff(FmtExtensible(), Data(Pcm)), Spec));
    }

    [Fact]
    public void Skips_unknown_chunks_odd_sizes_included_wherever_they_are()
    {
        // LIST/INFO with an odd size (and its pad byte) before fmt, fact between, JUNK and an odd chunk after the data.
        var wav = Riff(Chunk("LIST", "INFOISFT\u0005\0\0\0sox\0\0"u8.ToArray()[..15]), Fmt(), Chunk("fact", [7, 0, 0, 0]), Data(Pcm), Chunk("JUNK", new byte[3]), Chunk("id3 ", new byte[9]));

        Assert.Equal(Pcm.Select(s => (float)s), WavReader.ReadPcm16Mono(wav, Spec));
    }

    [Fact]
    public void Reads_the_data_chunk_before_the_fmt_chunk()
    {
        Assert.Equal(Pcm.Select(s => (float)s), WavReader.ReadPcm16Mono(Riff(Data(Pcm), Fmt()), Spec));
    }

    [Fact]
    public void Accepts_a_last_odd_chunk_whose_pad_byte_the_writer_left_off()
    {
        var wav = Riff(Fmt(), Data(Pcm), Chunk("note", [1, 2, 3], pad: false));

        Assert.Equal(Pcm.Length, WavReader.ReadPcm16Mono(wav, Spec).Length);
    }

    [Fact]
    public void Accepts_exactly_MaxSamples()
    {
        Assert.Equal(Spec.MaxSamples, WavReader.ReadPcm16Mono(Riff(Fmt(), Data(new short[Spec.MaxSamples])), Spec).Length);
    }

    [Theory]
    [MemberData(nameof(BadCases))]
    public void Refuses_each_bad_file_with_its_own_error_and_field(string name)
    {
        var (wav, error, unsupported, field) = Bad[name];

        var ex = Assert.Throws<WavFormatException>(() => WavReader.ReadPcm16Mono(wav, Spec));

        Assert.Equal(error, ex.Error);
        Assert.Equal(unsupported, ex.IsUnsupportedMedia);
        Assert.Equal(field, ex.Field);
        Assert.False(string.IsNullOrWhiteSpace(ex.Message));
    }

    [Fact]
    public void A_wrong_format_says_what_was_found_what_is_expected_and_how_to_convert()
    {
        var ex = Assert.Throws<WavFormatException>(() => WavReader.ReadPcm16Mono(Riff(Fmt(channels: 2, rate: 44_100), Data(Pcm)), Spec));

        Assert.Equal(WavError.WrongChannels, ex.Error);
        Assert.Equal("The WAV is PCM 16-bit stereo 44,100 Hz; this model takes PCM16 mono 16,000 Hz. Convert it first, e.g. `sox in.wav -r 16000 -c 1 -b 16 -e signed-integer out.wav`.", ex.Message);
        Assert.Equal("2", ex.Value);
        Assert.Contains("IEEE float (format tag 3)", Assert.Throws<WavFormatException>(() => WavReader.ReadPcm16Mono(Riff(Fmt(tag: 3, bits: 32), Data(Pcm)), Spec)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_over_long_clip_names_the_limit_in_seconds()
    {
        var ex = Assert.Throws<WavFormatException>(() => WavReader.ReadPcm16Mono(Riff(Fmt(), Data(new short[16_000])), Spec));

        Assert.Equal("The clip is 1 s (16,000 samples); this model takes at most 0.5 s (8,000 samples). Cut it or send it in parts.", ex.Message);
    }

    [Fact]
    public void A_lying_size_names_the_declared_and_the_real_size()
    {
        var ex = Assert.Throws<WavFormatException>(() => WavReader.ReadPcm16Mono(Riff(Fmt(), Chunk("data", new byte[14], size: 900_000_000)), Spec));

        Assert.Equal("Chunk \"data\" at offset 36 declares 900,000,000 bytes, but only 14 remain: the file is truncated or the size is wrong.", ex.Message);
        Assert.Equal("900000000", ex.Value);
    }

    [Fact]
    public void Allocates_the_samples_and_nothing_the_header_claims()
    {
        var clip = Riff(Fmt(), Data(new short[Spec.MaxSamples]));
        var lying = Riff(Fmt(), Chunk("data", new byte[14], size: 900_000_000));
        var tooLong = Riff(Fmt(), Data(new short[4 * Spec.MaxSamples]));
        _ = WavReader.ReadPcm16Mono(clip, Spec); // warm-up

        var before = GC.GetAllocatedBytesForCurrentThread();
        _ = WavReader.ReadPcm16Mono(clip, Spec);
        var read = GC.GetAllocatedBytesForCurrentThread() - before;
        before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<WavFormatException>(() => WavReader.ReadPcm16Mono(lying, Spec));
        Assert.Throws<WavFormatException>(() => WavReader.ReadPcm16Mono(tooLong, Spec));
        var refused = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.InRange(read, 4 * Spec.MaxSamples, (4 * Spec.MaxSamples) + 1024);
        Assert.True(refused < 64 * 1024, $"two refusals allocated {refused} bytes");
    }

    [Fact]
    public void The_streamed_reader_reads_espeak_ng_stdout_sizes_to_the_end_at_the_files_rate()
    {
        // espeak-ng --stdout at 22,050 Hz: the RIFF size is 0x7FFFF024 and the data size 0x7FFFF000, far past the payload.
        var wav = Riff([Fmt(rate: 22_050), Chunk("data", Data(Pcm).AsSpan(8).ToArray(), size: 0x7FFF_F000)], riffSize: 0x7FFF_F024);

        var (samples, rate) = WavReader.ReadStreamedPcm16Mono(wav, maxSamples: 100);

        Assert.Equal(22_050, rate);
        Assert.Equal(Pcm.Select(s => (float)s), samples);
        // A pipe cut mid-sample loses the half sample, not the clip.
        Assert.Equal(Pcm.Length, WavReader.ReadStreamedPcm16Mono([.. wav, 0x12], 100).Samples.Length);
        // A finished file reads the same; the strict reader refuses the streamed one.
        Assert.Equal(samples, WavReader.ReadStreamedPcm16Mono(WavWriter.Pcm16Mono(Pcm, 22_050), 100).Samples);
        Assert.Equal(WavError.SizeMismatch, Assert.Throws<WavFormatException>(() => WavReader.ReadPcm16Mono(wav, Spec with { SampleRate = 22_050 })).Error);
    }

    [Fact]
    public void The_streamed_reader_still_refuses_what_is_not_PCM16_mono_and_bounds_the_samples()
    {
        Assert.Equal(WavError.WrongChannels, Assert.Throws<WavFormatException>(() => WavReader.ReadStreamedPcm16Mono(Riff(Fmt(channels: 2, rate: 22_050), Data(Pcm)), 100)).Error);
        Assert.Equal(WavError.UnsupportedEncoding, Assert.Throws<WavFormatException>(() => WavReader.ReadStreamedPcm16Mono(Riff(Fmt(tag: 3, bits: 32), Data(Pcm)), 100)).Error);
        Assert.Equal(WavError.Malformed, Assert.Throws<WavFormatException>(() => WavReader.ReadStreamedPcm16Mono(Riff(Fmt(rate: 0), Data(Pcm)), 100)).Error);
        Assert.Equal(WavError.TooLong, Assert.Throws<WavFormatException>(() => WavReader.ReadStreamedPcm16Mono(Riff(Fmt(), Data(Pcm)), Pcm.Length - 1)).Error);
        // Only the data chunk may run past the payload; any other lying size is still a broken file.
        Assert.Equal("wav.LIST.size", Assert.Throws<WavFormatException>(() => WavReader.ReadStreamedPcm16Mono(Riff(Fmt(), Chunk("LIST", new byte[4], size: 1_000), Data(Pcm)), 100)).Field);
        Assert.Equal(WavError.MissingData, Assert.Throws<WavFormatException>(() => WavReader.ReadStreamedPcm16Mono(Riff([Fmt()], riffSize: 0x7FFF_F024), 100)).Error);
    }

    [Fact]
    public void MaxPayloadBytes_fits_the_longest_clip_with_an_extensible_header_and_metadata()
    {
        var spec = new AudioInputSpec();
        var wav = Riff(Chunk("LIST", new byte[2000]), FmtExtensible(), Data(new short[spec.MaxSamples]));

        Assert.Equal(spec.MaxSamples, WavReader.ReadPcm16Mono(wav, spec).Length);
        Assert.True(wav.Length <= WavReader.MaxPayloadBytes(spec), $"{wav.Length} > {WavReader.MaxPayloadBytes(spec)}");
        Assert.True(WavReader.MaxPayloadBytes(spec) <= new ContinualLearning.Device.Configuration.DeviceLimits().SampleMaxBytes, "the default body cap holds the default longest clip");
        Assert.Equal("PCM16 mono 16,000 Hz", WavReader.Describe(spec));
        Assert.Equal("10 s (160,000 samples)", WavReader.DescribeLimit(spec));
    }
}
