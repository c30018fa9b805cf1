using System.Text.Json;
using System.Text.Json.Serialization;
using ContinualLearning.Audio;
using ContinualLearning.Device.Agent;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Pipelines;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ContinualLearning.Device.Serving;

/// <summary>
/// The loopback HTTP endpoints (Kestrel minimal APIs): <c>POST /predict</c>, <c>POST /label</c>, <c>GET /health</c>,
/// <c>GET /metrics</c>. Only 127.0.0.1 is bound: local applications talk to the daemon, nothing else on the network can.
/// A feature model takes JSON; an audio model takes <c>Content-Type: audio/wav</c> on <c>/predict</c> and, with
/// <c>?label=</c>, on <c>/label</c> (a labelled clip), while <c>/label</c> still takes JSON <c>{sampleId, label}</c>.
/// Refusals are 400 (404 for an unknown sample id, 413 for a body over <see cref="DeviceLimits.SampleMaxBytes"/>, 415 for
/// a body the model does not take, 503 without a model) with <c>{"error","field","value"}</c>; the value is cut
/// (<see cref="ContinualLearning.Text.DisplayText"/>), so a 900 KB bad value is not echoed back.
/// </summary>
public static class LocalApi
{
    /// <summary>Maps the endpoints. <paramref name="agent"/> is optional (the MQTT connection state in /health).</summary>
    public static IEndpointRouteBuilder MapDeviceApi(this IEndpointRouteBuilder app, DeviceRuntime runtime, Func<DeviceAgent?> agent)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(agent);

        app.MapPost("/predict", (HttpContext http) => HandleAsync(http, runtime, body =>
        {
            var contentType = http.Request.ContentType;
            if (ModelInput.IsAudio(contentType))
            {
                var clip = AudioSample.Read(body.Span, contentType, runtime);
                return Predicted(SampleRequest.Guard(() => runtime.Predict(clip)));
            }
            AudioSample.RequireFeatures(runtime, contentType);
            var request = SampleRequest.Parse(body.Span);
            if (!request.HasFeatures) throw new SampleRequestException("The body needs 'features': an array in schema order or an object {\"name\": number}.", "features", null);
            return Predicted(SampleRequest.Guard(() => request.Features is { } raw ? runtime.Predict(raw) : runtime.Predict(request.NamedFeatures!)));
        }));

        app.MapPost("/label", (HttpContext http) => HandleAsync(http, runtime, body =>
        {
            var contentType = http.Request.ContentType;
            if (ModelInput.IsAudio(contentType))
            {
                // A labelled clip: the audio is the body, so the label travels in the query.
                var clip = AudioSample.Read(body.Span, contentType, runtime);
                var label = AudioSample.RequireLabel(http.Request.Query["label"].ToString(), "in the query (POST /label?label=yes)");
                var added = SampleRequest.Guard(() => runtime.AddLabelled(clip, label));
                return Results.Json(new LabelAccepted(added, Accepted: true), LocalApiJson.Default.LabelAccepted);
            }
            var request = SampleRequest.Parse(body.Span);
            if (request.SampleId is not { } id) throw new SampleRequestException("The body needs 'sampleId' (returned by /predict).", "sampleId", null);
            if (!request.HasLabel) throw new SampleRequestException("The body needs 'label' (a label name or class index).", "label", null);
            SampleRequest.Guard(() => request.LabelTo(runtime, id));
            return Results.Json(new LabelAccepted(id, Accepted: true), LocalApiJson.Default.LabelAccepted);
        }));

        app.MapPost("/classes", http => ClassesEndpoint.HandleAsync(http, runtime));

        // RequestDelegate handlers ((HttpContext) => Task), not Delegate overloads: those are built by reflection at run
        // time, which native AOT (cl-device) cannot do.
        app.MapGet("/health", http => Health(runtime, agent()).ExecuteAsync(http));

        app.MapGet("/metrics", http => Results.Text(runtime.Metrics.RenderPrometheus(), "text/plain; version=0.0.4; charset=utf-8").ExecuteAsync(http));
        return app;
    }

    private static IResult Health(DeviceRuntime runtime, DeviceAgent? agent)
    {
        var learner = runtime.Learner;
        if (learner is null)
            return Results.Json(new NoModelHealth("no-model", new NoModelException().Message), LocalApiJson.Default.NoModelHealth, statusCode: StatusCodes.Status503ServiceUnavailable);
        var s = learner.Status;
        return Results.Json(
            new HealthBody("ok", s.ModelName, s.ModelVersion, s.BaseVersion, s.Engine, s.Paused, s.Training, agent?.IsConnected ?? false, runtime.LastError, agent?.Cluster),
            LocalApiJson.Default.HealthBody);
    }

    private static IResult Predicted(ContinualLearning.Learning.Prediction prediction) =>
        Results.Json(PredictionResponse.From(prediction), LocalApiJson.Default.PredictionResponse);

    // The handlers are RequestDelegates ((HttpContext) => Task), so a returned IResult would be dropped: execute it here.
    private static async Task HandleAsync(HttpContext http, DeviceRuntime runtime, Func<ReadOnlyMemory<byte>, IResult> handle) =>
        await (await ResultAsync(http, runtime, handle).ConfigureAwait(false)).ExecuteAsync(http).ConfigureAwait(false);

    private static async Task<IResult> ResultAsync(HttpContext http, DeviceRuntime runtime, Func<ReadOnlyMemory<byte>, IResult> handle)
    {
        try
        {
            var clip = ModelInput.IsAudio(http.Request.ContentType) ? runtime.Input?.Audio : null;
            var body = await ReadBodyAsync(http, runtime.Options.Limits.SampleMaxBytes, clip).ConfigureAwait(false);
            return handle(body);
        }
        catch (SampleRequestException ex)
        {
            if (ex.StatusCode == StatusCodes.Status413PayloadTooLarge) runtime.Metrics.CountOversize();
            else runtime.Metrics.CountRejectedRequest();
            return Results.Json(new ErrorBody(ex.Message, ex.Field, ex.Value), LocalApiJson.Default.ErrorBody, statusCode: ex.StatusCode);
        }
    }

    // The body, read to at most `cap` bytes: a declared length over the cap is refused before reading anything, and a
    // chunked body is refused as soon as it passes the cap (never buffered whole).
    internal static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpContext http, int cap, AudioInputSpec? clip = null)
    {
        if (http.Request.ContentLength is { } declared && declared > cap) throw TooLarge($"The body is {declared} bytes", cap, clip);
        // A declared length gets one byte more, so the end of the body is seen without growing the buffer.
        var buffer = new byte[Math.Min(cap + 1L, (http.Request.ContentLength ?? 16 * 1024) + 1)];
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > cap) throw TooLarge($"The body exceeds {cap} bytes", cap, clip);
                    Array.Resize(ref buffer, (int)Math.Min(cap + 1L, Math.Max(4096, buffer.Length * 2L)));
                }
                var read = await http.Request.Body.ReadAsync(buffer.AsMemory(length), http.RequestAborted).ConfigureAwait(false);
                if (read == 0) break;
                length += read;
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            // Kestrel's own limit (set to the same cap) tripped first.
            throw TooLarge($"The body exceeds {cap} bytes", cap, clip);
        }
        if (length > cap) throw TooLarge($"The body exceeds {cap} bytes", cap, clip);
        return buffer.AsMemory(0, length);
    }

    private static SampleRequestException TooLarge(string what, int cap, AudioInputSpec? clip) => new(
        clip is null
            ? $"{what}; at most {cap} are accepted (config key limits:sampleMaxBytes). Send one sample per request."
            : $"{what}; at most {cap} are accepted (config key limits:sampleMaxBytes). This model takes clips of at most {WavReader.DescribeLimit(clip)}, a WAV of at most {WavReader.MaxPayloadBytes(clip)} bytes: "
              + (WavReader.MaxPayloadBytes(clip) > cap ? $"to accept them, set limits:sampleMaxBytes to {WavReader.MaxPayloadBytes(clip)}." : "cut the clip."),
        null, null, StatusCodes.Status413PayloadTooLarge);

    /// <summary>The error body: what was wrong, in which field, with which value.</summary>
    public sealed record ErrorBody(string Error, string? Field, string? Value);

    /// <summary>The body of an accepted label.</summary>
    public sealed record LabelAccepted(long SampleId, bool Accepted);

    /// <summary><c>/health</c> with a model; <paramref name="Cluster"/> is the assigned cluster under <c>learning:clustering</c> (absent when off).</summary>
    public sealed record HealthBody(string Status, string Model, string Version, string BaseVersion, string Engine, bool Paused, bool Training, bool MqttConnected, string? LastError,
        int? Cluster = null);

    /// <summary><c>/health</c> before the first model (503).</summary>
    public sealed record NoModelHealth(string Status, string Error);
}

/// <summary>Source-generated camelCase JSON for the HTTP bodies (no reflection: <c>cl-device</c> is compiled ahead of time).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(PredictionResponse))]
[JsonSerializable(typeof(LocalApi.ErrorBody))]
[JsonSerializable(typeof(LocalApi.LabelAccepted))]
[JsonSerializable(typeof(LocalApi.HealthBody))]
[JsonSerializable(typeof(LocalApi.NoModelHealth))]
[JsonSerializable(typeof(ClassesEndpoint.ClassAddedBody))]
internal sealed partial class LocalApiJson : JsonSerializerContext;
