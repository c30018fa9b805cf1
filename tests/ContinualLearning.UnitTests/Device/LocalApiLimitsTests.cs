using ContinualLearning.Device;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ContinualLearning.Device.Hosting;
using ContinualLearning.Fleet.Broker;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.UnitTests.Device;

/// <summary>The loopback API's bounds: a body cap with a clear 413 (never buffered whole), and no echo of a huge bad value (attack 9).</summary>
public sealed class LocalApiLimitsTests : IAsyncLifetime
{
    private readonly EmbeddedBroker _broker = new();
    private DeviceTestKit _kit = null!;
    private WebApplication _app = null!;
    private HttpClient _http = null!;

    private DeviceRuntime Runtime => _app.Services.GetRequiredService<DeviceService>().Runtime;

    public async ValueTask InitializeAsync()
    {
        await _broker.StartAsync();
        _kit = new DeviceTestKit(_broker.Port);
        _kit.Options = _kit.Options with { InitialBundle = _kit.Bundle("1.0.0") };
        _app = DeviceHost.Build(_kit.Options, configureLogging: l => l.ClearProviders());
        await _app.StartAsync();
        // Expect: 100-continue, as curl sends for large bodies: a body refused before it is read is then never sent, so
        // the 413 cannot race the client's write into a connection the server already closed (a broken pipe under load).
        _http = new HttpClient { BaseAddress = DeviceHost.HttpAddress(_app), DefaultRequestHeaders = { ExpectContinue = true } };
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _broker.DisposeAsync();
        _kit.Dispose();
    }

    [Fact]
    public async Task Attack_900KB_bad_value_is_not_echoed_in_the_400_body()
    {
        // Measured on the old daemon: the 400 body carried the whole 900 KB value back.
        var body = $"{{\"features\":[1,\"{new string('9', 900 * 1024)}\",3]}}";

        using var response = await _http.PostAsync("/predict", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(text.Length < 500, $"{text.Length} bytes: {text[..Math.Min(text.Length, 300)]}");
        using var error = JsonDocument.Parse(text);
        Assert.Equal("features[1]", error.RootElement.GetProperty("field").GetString());
        Assert.EndsWith("… (921602 bytes)", error.RootElement.GetProperty("value").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, Runtime.Metrics.RequestsRejected);
    }

    [Fact]
    public async Task A_body_over_the_cap_is_refused_with_413_naming_the_limit()
    {
        var body = new byte[2 * 1024 * 1024];

        using var response = await _http.PostAsync("/label", new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } });

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var message = error.RootElement.GetProperty("error").GetString();
        Assert.Equal($"The body is {body.Length} bytes; at most {1024 * 1024} are accepted (config key limits:sampleMaxBytes). Send one sample per request.", message);
        Assert.Equal(1, Runtime.Metrics.PayloadsOversize);
    }

    [Fact]
    public async Task A_chunked_body_is_refused_as_soon_as_it_passes_the_cap()
    {
        using var response = await _http.PostAsync("/predict", new UnknownLengthContent(3 * 1024 * 1024));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains("exceeds 1048576 bytes", error.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, Runtime.Metrics.PayloadsOversize);
    }

    [Fact]
    public async Task A_body_at_the_configured_cap_is_still_read()
    {
        // Whitespace-padded to exactly the cap: a valid prediction request.
        var json = "{\"features\":[1,2,3]}";
        var body = json + new string(' ', 1024 * 1024 - json.Length);

        using var response = await _http.PostAsync("/predict", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    // Content with no Content-Length: HttpClient sends it chunked.
    private sealed class UnknownLengthContent(int size) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var block = new byte[64 * 1024];
            block.AsSpan().Fill((byte)' ');
            try
            {
                for (var sent = 0; sent < size; sent += block.Length) await stream.WriteAsync(block);
            }
            catch (IOException)
            {
                // The server answered 413 and closed the request before the whole body was sent: expected.
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
