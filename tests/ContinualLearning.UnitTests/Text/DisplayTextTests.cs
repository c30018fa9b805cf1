using System.Text;
using ContinualLearning.Text;

namespace ContinualLearning.UnitTests.Text;

public sealed class DisplayTextTests
{
    [Fact]
    public void Short_printable_text_is_returned_as_is()
    {
        const string value = "features[1]";
        Assert.Same(value, DisplayText.Truncate(value));
        Assert.Null(DisplayText.Truncate(null));
    }

    [Fact]
    public void A_2MB_value_is_cut_to_the_limit_and_says_its_full_size()
    {
        var value = new string('9', 2 * 1024 * 1024);
        var shown = DisplayText.Truncate(value);
        Assert.Equal(new string('9', DisplayText.DefaultMaxChars) + "… (2097152 bytes)", shown);
    }

    [Fact]
    public void Control_characters_are_escaped_so_a_value_cannot_forge_a_log_line()
    {
        Assert.Equal("UP\\u000a12:00:00 info: promoted", DisplayText.Truncate("UP\n12:00:00 info: promoted"));
    }

    [Fact]
    public void A_surrogate_pair_is_never_split_and_the_size_is_in_utf8_bytes()
    {
        var value = new string('a', 9) + "😀" + new string('b', 10);
        var shown = DisplayText.Truncate(value, 10);
        Assert.Equal(new string('a', 9) + $"… ({Encoding.UTF8.GetByteCount(value)} bytes)", shown);
    }

    [Fact]
    public void A_raw_payload_preview_decodes_only_what_it_shows()
    {
        var payload = Encoding.UTF8.GetBytes("{\"features\":[" + new string('1', 900_000) + "]}");
        var shown = DisplayText.TruncateUtf8(payload, 20);
        Assert.Equal("{\"features\":[1111111… (900015 bytes)", shown);
        Assert.Equal("{\"a\":1}", DisplayText.TruncateUtf8("{\"a\":1}"u8));
    }
}
