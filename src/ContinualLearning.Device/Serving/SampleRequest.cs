using System.Globalization;
using System.Text.Json;
using ContinualLearning.Device.Learning;

namespace ContinualLearning.Device.Serving;

/// <summary>A request was refused; <see cref="Field"/> and <see cref="Value"/> say which part (the HTTP 400 body).</summary>
public sealed class SampleRequestException : Exception
{
    public SampleRequestException()
    {
    }

    public SampleRequestException(string message)
        : base(message)
    {
    }

    public SampleRequestException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public SampleRequestException(string message, string? field, string? value, int statusCode = 400)
        : base(message)
    {
        Field = field;
        Value = value;
        StatusCode = statusCode;
    }

    public string? Field { get; }

    public string? Value { get; }

    public int StatusCode { get; } = 400;
}

/// <summary>
/// A predict/label/sample request: <c>{"features":[..]}</c> or <c>{"features":{"name":value}}</c>, optionally with
/// <c>"label"</c> (a sample that arrives labelled), or <c>{"sampleId":123,"label":"UP"}</c> (a label for a served
/// prediction). Parsed by hand so that every refusal names the field and value.
/// </summary>
public sealed record SampleRequest(float[]? Features, IReadOnlyDictionary<string, float>? NamedFeatures, long? SampleId, string? Label, int? LabelIndex = null)
{
    public bool HasLabel => Label is not null || LabelIndex is not null;

    public bool HasFeatures => Features is not null || NamedFeatures is not null;

    public static SampleRequest Parse(ReadOnlySpan<byte> json)
    {
        JsonDocument doc;
        try
        {
            var reader = new Utf8JsonReader(json);
            doc = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException ex)
        {
            throw new SampleRequestException($"The body is not valid JSON: {ex.Message}", null, null);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new SampleRequestException($"The body must be a JSON object, not {root.ValueKind}.", null, root.GetRawText());
            float[]? features = null;
            Dictionary<string, float>? named = null;
            long? sampleId = null;
            string? label = null;
            int? labelIndex = null;
            if (root.TryGetProperty("features", out var f))
            {
                switch (f.ValueKind)
                {
                    case JsonValueKind.Array:
                        features = new float[f.GetArrayLength()];
                        var i = 0;
                        foreach (var v in f.EnumerateArray())
                        {
                            features[i] = Number(v, $"features[{i}]");
                            i++;
                        }
                        break;
                    case JsonValueKind.Object:
                        named = new Dictionary<string, float>(StringComparer.Ordinal);
                        foreach (var p in f.EnumerateObject())
                            named[p.Name] = Number(p.Value, $"features.{p.Name}");
                        break;
                    default:
                        throw new SampleRequestException("'features' must be an array of numbers (schema order) or an object {\"name\": number}.", "features", f.GetRawText());
                }
            }
            if (root.TryGetProperty("sampleId", out var id))
            {
                if (id.ValueKind == JsonValueKind.Number && id.TryGetInt64(out var n)) sampleId = n;
                else if (id.ValueKind == JsonValueKind.String && long.TryParse(id.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var s)) sampleId = s;
                else throw new SampleRequestException("'sampleId' must be the integer id returned by /predict.", "sampleId", id.GetRawText());
            }
            if (root.TryGetProperty("label", out var l))
            {
                if (l.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(l.GetString())) label = l.GetString();
                else if (l.ValueKind == JsonValueKind.Number && l.TryGetInt32(out var index) && index >= 0) labelIndex = index;
                else throw new SampleRequestException("'label' must be a label name (e.g. \"UP\") or a class index (0, 1, ...).", "label", l.GetRawText());
            }
            return new SampleRequest(features, named, sampleId, label, labelIndex);
        }
    }

    /// <summary>Applies a sample from the MQTT samples topic: label a served prediction, add a labelled sample, or predict.</summary>
    public static void Apply(SampleRequest request, DeviceRuntime runtime)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(runtime);
        Guard(() =>
        {
            if (request.SampleId is { } id)
            {
                if (!request.HasLabel) throw new SampleRequestException("A message with 'sampleId' needs a 'label'.", "label", null);
                request.LabelTo(runtime, id);
                return;
            }
            if (!request.HasFeatures) throw new SampleRequestException("A sample needs 'features' (or 'sampleId' and 'label').", "features", null);
            if (request.Features is { } f && request.Label is { } label)
            {
                runtime.AddLabelled(f, label);
                return;
            }
            var prediction = request.Features is { } raw ? runtime.Predict(raw) : runtime.Predict(request.NamedFeatures!);
            if (request.HasLabel) request.LabelTo(runtime, prediction.SampleId);
        });
    }

    /// <summary>Joins this request's label (name or index) to <paramref name="sampleId"/>.</summary>
    public void LabelTo(DeviceRuntime runtime, long sampleId)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        if (Label is { } name) runtime.Label(sampleId, name);
        else if (LabelIndex is { } index) runtime.Label(sampleId, index);
        else throw new SampleRequestException("'label' is required.", "label", null);
    }

    /// <summary>Runs <paramref name="action"/>, turning the learner's validation errors into <see cref="SampleRequestException"/>.</summary>
    public static T Guard<T>(Func<T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        try
        {
            return action();
        }
        catch (ContinualLearning.Features.FeatureValidationException ex)
        {
            var field = ex.Feature is null ? "features" : $"features.{ex.Feature}";
            throw new SampleRequestException(ex.Message, field, ex.Value?.ToString("R", CultureInfo.InvariantCulture));
        }
        catch (ContinualLearning.Storage.SampleRejectedException ex)
        {
            var notFound = ex.Reason is ContinualLearning.Storage.SampleRejectionReason.UnknownSampleId;
            throw new SampleRequestException(ex.Message, "sampleId", ex.SampleId?.ToString(CultureInfo.InvariantCulture), notFound ? 404 : 400);
        }
        catch (NoModelException ex)
        {
            throw new SampleRequestException(ex.Message, null, null, 503);
        }
        catch (ArgumentException ex)
        {
            throw new SampleRequestException(ex.Message, ex.ParamName, null);
        }
        catch (KeyNotFoundException ex)
        {
            throw new SampleRequestException(ex.Message, "sampleId", null, 404);
        }
    }

    public static void Guard(Action action) => Guard(() =>
    {
        action();
        return 0;
    });

    private static float Number(JsonElement v, string field)
    {
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out var d))
            throw new SampleRequestException($"'{field}' must be a number.", field, v.GetRawText());
        var f = (float)d;
        if (!float.IsFinite(f))
            throw new SampleRequestException($"'{field}' = {v.GetRawText()} is outside the float range.", field, v.GetRawText());
        return f;
    }
}

/// <summary>JSON shape of a served prediction.</summary>
public sealed record PredictionResponse(long SampleId, string? Label, int LabelIndex, float[] Probabilities, string ModelVersion)
{
    public static PredictionResponse From(Prediction p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return new(p.SampleId, p.LabelName, p.LabelIndex, p.Probabilities, p.ModelVersion);
    }
}
