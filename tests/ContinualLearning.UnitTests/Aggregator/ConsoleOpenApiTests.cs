using System.Text.Json;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>The OpenAPI document lists every console endpoint with its method (13 reads, 3 actions).</summary>
[Collection(BrokerCollection.Name)]
public sealed class ConsoleOpenApiTests(EmbeddedBrokerFixture fixture) : BrokerTestBase(fixture)
{
    [Fact]
    public async Task The_openapi_document_lists_the_endpoints()
    {
        await using var host = await ConsoleTestHost.StartAsync(Fixture.Broker.Port, Fleet);
        var document = await host.GetJsonAsync("/openapi/v1.json");
        Assert.StartsWith("3.", document.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var paths = document.GetProperty("paths");
        string[] gets = ["overview", "devices", "devices/{id}", "versions", "versions/{version}", "rollouts", "accuracy", "drift", "rejections", "audit", "health", "events", "clusters"];
        var listed = string.Join(", ", paths.EnumerateObject().Select(p => p.Name));
        foreach (var path in gets)
            Assert.True(paths.TryGetProperty("/api/v1/" + path, out var item) && item.TryGetProperty("get", out _), $"GET /api/v1/{path} is missing; the document lists {listed}");
        string[] posts = ["versions/{version}/rollback", "versions/{version}/publish", "devices/{id}/commands"];
        foreach (var path in posts)
        {
            var post = default(JsonElement);
            Assert.True(paths.TryGetProperty("/api/v1/" + path, out var item) && item.TryGetProperty("post", out post), $"POST /api/v1/{path} is missing; the document lists {listed}");
            var responses = post.GetProperty("responses").EnumerateObject().Select(r => r.Name).ToArray();
            Assert.Contains("401", responses);
            Assert.Contains("403", responses);
        }
        Assert.Equal(JsonValueKind.Object, paths.GetProperty("/api/v1/devices/{id}/commands").GetProperty("post").GetProperty("requestBody").ValueKind);
        // The model parameter of concept-aware aggregation: a query parameter of the version reads and the release actions.
        foreach (var (path, method) in new[] { ("versions", "get"), ("versions/{version}", "get"), ("versions/{version}/rollback", "post"), ("versions/{version}/publish", "post") })
            Assert.Contains(paths.GetProperty("/api/v1/" + path).GetProperty(method).GetProperty("parameters").EnumerateArray(),
                p => p.GetProperty("name").GetString() == "model" && p.GetProperty("in").GetString() == "query");
    }
}
