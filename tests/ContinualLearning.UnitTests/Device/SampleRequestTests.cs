using System.Globalization;
using System.Text;
using ContinualLearning.Device.Serving;

namespace ContinualLearning.UnitTests.Device;

public sealed class SampleRequestTests
{
    private static byte[] Sample(int width, string label = "c3") =>
        Encoding.UTF8.GetBytes("{\"features\":[" + string.Join(',', Enumerable.Range(0, width).Select(i => (i * 0.37 - 20).ToString("0.000", CultureInfo.InvariantCulture))) + "],\"label\":\"" + label + "\"}");

    [Fact]
    public void Parses_features_and_label()
    {
        var request = SampleRequest.Parse(Sample(128));
        Assert.Equal(128, request.Features!.Length);
        Assert.Equal(-20f, request.Features[0]);
        Assert.Equal((float)(127 * 0.37 - 20), request.Features[127], 3);
        Assert.Equal("c3", request.Label);
        Assert.Null(request.SampleId);
    }

    [Fact]
    public void Parsing_a_sample_allocates_little_more_than_its_feature_array()
    {
        // Every labelled sample from MQTT or HTTP goes through here: on a device ingesting bursts, per-message garbage
        // is what grows the RSS (docs/benchmarks.md, "Device footprint"). JsonDocument.ParseValue copied the payload and
        // built unpooled metadata (~6.9 KB per 128-feature message); parsing the payload in place with pooled metadata
        // leaves the float[] (536 B) and the request itself.
        var payload = Sample(128);
        for (var i = 0; i < 100; i++) SampleRequest.Parse(payload); // warm-up: pools, statics
        const int n = 1000;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < n; i++) SampleRequest.Parse(payload);
        var perMessage = (GC.GetAllocatedBytesForCurrentThread() - before) / n;
        Assert.True(perMessage < 1024, $"SampleRequest.Parse allocated {perMessage} bytes per 128-feature message (bound 1024)");
    }

    [Theory]
    [InlineData("{\"features\":[1,\"x\"]}", "features[1]")]
    [InlineData("{\"features\":7}", "features")]
    [InlineData("{\"sampleId\":\"abc\"}", "sampleId")]
    [InlineData("{\"label\":-1}", "label")]
    [InlineData("[1,2]", null)]
    [InlineData("{\"features\":[1,2]", null)]
    public void Refusals_name_the_field(string json, string? field)
    {
        var ex = Assert.Throws<SampleRequestException>(() => SampleRequest.Parse(Encoding.UTF8.GetBytes(json)));
        Assert.Equal(field, ex.Field);
    }
}
