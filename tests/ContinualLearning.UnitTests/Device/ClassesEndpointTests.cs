using System.Net;
using System.Text;
using System.Text.Json;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Device.Hosting;
using ContinualLearning.Fleet.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.UnitTests.Device;

/// <summary><c>POST /classes</c> through the real host, and the class-incremental and EWC settings.</summary>
public sealed class ClassesEndpointTests : IDisposable
{
    private readonly DeviceTestKit _kit = new(brokerPort: 1);
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-classes-options-").FullName;

    public void Dispose()
    {
        _kit.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private async Task<(WebApplication App, HttpClient Http)> StartAsync(bool allowNewClasses, int maxClasses = 64)
    {
        var options = _kit.Options with { InitialBundle = _kit.Bundle("1.0.0"), AllowNewClasses = allowNewClasses, MaxClasses = maxClasses };
        var app = DeviceHost.Build(options, configureLogging: l => l.ClearProviders());
        await app.StartAsync();
        return (app, new HttpClient { BaseAddress = DeviceHost.HttpAddress(app) });
    }

    private static async Task StopAsync(WebApplication app, HttpClient http)
    {
        http.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(HttpClient http, string path, string json)
    {
        using var response = await http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, doc.RootElement.Clone());
    }

    [Fact]
    public async Task Classes_are_refused_with_403_when_off()
    {
        var (app, http) = await StartAsync(allowNewClasses: false);
        try
        {
            var (status, body) = await PostAsync(http, "/classes", """{"name":"STOP"}""");
            Assert.Equal(HttpStatusCode.Forbidden, status);
            Assert.Contains("learning:allowNewClasses", body.GetProperty("error").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            await StopAsync(app, http);
        }
    }

    [Fact]
    public async Task A_class_added_over_http_can_be_labelled_and_bad_requests_get_clear_statuses()
    {
        var (app, http) = await StartAsync(allowNewClasses: true, maxClasses: 3);
        try
        {
            var (status, body) = await PostAsync(http, "/classes", """{"name":"STOP"}""");
            Assert.Equal(HttpStatusCode.Created, status);
            Assert.Equal(2, body.GetProperty("index").GetInt32());
            Assert.Equal(["DOWN", "UP", "STOP"], body.GetProperty("labelNames").EnumerateArray().Select(e => e.GetString()));
            Assert.StartsWith("1.0.0-local.", body.GetProperty("modelVersion").GetString(), StringComparison.Ordinal);

            var (_, prediction) = await PostAsync(http, "/predict", """{"features":[1,2,3]}""");
            Assert.Equal(3, prediction.GetProperty("probabilities").GetArrayLength());
            var id = prediction.GetProperty("sampleId").GetInt64();
            Assert.Equal(HttpStatusCode.OK, (await PostAsync(http, "/label", $$"""{"sampleId":{{id}},"label":"STOP"}""")).Status);

            Assert.Equal(HttpStatusCode.Conflict, (await PostAsync(http, "/classes", """{"name":"UP"}""")).Status);
            Assert.Equal(HttpStatusCode.Conflict, (await PostAsync(http, "/classes", """{"name":"GO"}""")).Status); // the cap of 3
            Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync(http, "/classes", """{"name":" padded"}""")).Status);
            Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync(http, "/classes", """{"name":7}""")).Status);
            Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync(http, "/classes", """{"label":"X"}""")).Status);
            Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync(http, "/classes", """{"name":""")).Status);
            var (tooLong, _) = await PostAsync(http, "/classes", $$"""{"name":"{{new string('x', 5000)}}"}""");
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLong);
        }
        finally
        {
            await StopAsync(app, http);
        }
    }

    [Fact]
    public void Settings_are_read_and_validated_with_key_value_and_fix()
    {
        var key = Path.Combine(_dir, "fleet.pub");
        File.WriteAllText(key, "placeholder");
        var basic = new Dictionary<string, string?> { ["deviceId"] = "pi-07", ["fleet"] = "plant1", ["modelName"] = "kws", ["fleetPublicKey"] = key };

        var defaults = DeviceOptionsReader.Read(DeviceOptionsReader.Build(null, basic, readEnvironment: false)).ToLearnerOptions();
        Assert.Equal((0f, 128, false, 64), (defaults.EwcLambda, defaults.EwcSamples, defaults.AllowNewClasses, defaults.MaxClasses));

        var set = DeviceOptionsReader.Read(DeviceOptionsReader.Build(null, new Dictionary<string, string?>(basic)
        {
            ["learning:ewcLambda"] = "100", ["learning:ewcSamples"] = "64", ["learning:allowNewClasses"] = "true", ["learning:maxClasses"] = "20",
        }, readEnvironment: false)).ToLearnerOptions();
        Assert.Equal((100f, 64, true, 20), (set.EwcLambda, set.EwcSamples, set.AllowNewClasses, set.MaxClasses));

        var ex = Assert.Throws<ConfigurationException>(() => DeviceOptionsReader.Read(DeviceOptionsReader.Build(null, new Dictionary<string, string?>(basic)
        {
            ["learning:ewcLambda"] = "-1", ["learning:ewcSamples"] = "0", ["learning:allowNewClasses"] = "maybe", ["learning:maxClasses"] = "1",
        }, readEnvironment: false)));
        var byKey = ex.Errors.ToDictionary(e => e.Key);
        Assert.Equal("-1", byKey["learning:ewcLambda"].Value);
        Assert.Contains("100", byKey["learning:ewcLambda"].Fix, StringComparison.Ordinal);
        Assert.Equal("0", byKey["learning:ewcSamples"].Value);
        Assert.Equal("maybe", byKey["learning:allowNewClasses"].Value);
        Assert.Equal("1", byKey["learning:maxClasses"].Value);

        Assert.Throws<ArgumentException>(() => new ContinualLearning.Learning.LearnerOptions { ModelStoreDirectory = "m", EwcLambda = float.NaN }.Validate());
        Assert.Throws<ArgumentException>(() => new ContinualLearning.Learning.LearnerOptions { ModelStoreDirectory = "m", MaxClasses = 5000 }.Validate());
    }
}
