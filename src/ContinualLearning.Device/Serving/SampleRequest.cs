using System.Globalization;
using System.Text.Json;
using ContinualLearning.Learning;
using ContinualLearning.Text;

namespace ContinualLearning.Device.Serving;

/// <summary>
/// A request was refused; <see cref="Field"/> and <see cref="Value"/> say which part (the HTTP 400 body). The message,
/// field and value are cut with <see cref="DisplayText"/> here, once, because every one of them may quote the sender's
/// bytes and all of them end up in a log line or an error body.
/// </summary>
public sealed class SampleRequestException : Exception
{
    public SampleRequestException()
    {
    }

    public SampleRequestException(string message)
        : base(DisplayText.Truncate(message, DisplayText.MessageMaxChars))
    {
    }

    public SampleRequestException(string message, Exception innerException)
        : base(DisplayText.Truncate(message, DisplayText.MessageMaxChars), innerException)
    {
    }

    public SampleRequestException(string message, string? field, string? value, int statusCode = 400)
        : base(DisplayText.Truncate(message, DisplayText.MessageMaxChars))
    {
        Field = DisplayText.Truncate(field);
        // Values are usually cut where they are read (Raw); a cut value is left as it is, anything longer is cut here.
        Value = DisplayText.Truncate(value, DisplayText.DefaultMaxChars + DisplayText.SuffixMaxChars);
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

    /// <remarks>
    /// A forward-only <see cref="Utf8JsonReader"/> over the payload, straight into the feature array: every sample from
    /// MQTT or HTTP comes through here, and the <see cref="JsonDocument"/> this replaced allocated ~6.9 KB of garbage per
    /// 128-feature message (docs/benchmarks.md, "Device footprint"). Unknown properties are skipped.
    /// </remarks>
    public static SampleRequest Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read()) throw new SampleRequestException("The body is empty; send a JSON object.", null, null);
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                var kind = Kind(reader.TokenType);
                throw new SampleRequestException($"The body must be a JSON object, not {kind}.", null, Raw(json, ref reader));
            }
            float[]? features = null;
            Dictionary<string, float>? named = null;
            long? sampleId = null;
            string? label = null;
            int? labelIndex = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("features"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartArray) features = ReadArray(json, ref reader);
                    else if (reader.TokenType == JsonTokenType.StartObject) named = ReadObject(json, ref reader);
                    else throw new SampleRequestException("'features' must be an array of numbers (schema order) or an object {\"name\": number}.", "features", Raw(json, ref reader));
                }
                else if (reader.ValueTextEquals("sampleId"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var n)) sampleId = n;
                    else if (reader.TokenType == JsonTokenType.String && long.TryParse(reader.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var id)) sampleId = id;
                    else throw new SampleRequestException("'sampleId' must be the integer id returned by /predict.", "sampleId", Raw(json, ref reader));
                }
                else if (reader.ValueTextEquals("label"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String && reader.GetString() is { } text && !string.IsNullOrWhiteSpace(text)) label = text;
                    else if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var index) && index >= 0) labelIndex = index;
                    else throw new SampleRequestException("'label' must be a label name (e.g. \"UP\") or a class index (0, 1, ...).", "label", Raw(json, ref reader));
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            // Anything after the object (a second value, garbage) makes Read throw.
            while (reader.Read())
            {
            }
            return new SampleRequest(features, named, sampleId, label, labelIndex);
        }
        catch (JsonException ex)
        {
            throw new SampleRequestException($"The body is not valid JSON: {ex.Message}", null, null);
        }
        catch (InvalidOperationException ex)
        {
            // The reader checks strings only when they are read (GetString, ValueTextEquals): invalid UTF-8 or an
            // unpaired \uD800-style escape surfaces here, not as a JsonException (found by fuzzing, docs/fuzzing.md).
            throw new SampleRequestException($"The body holds a string that is not valid UTF-8 or has an unpaired surrogate escape: {ex.Message}", null, null);
        }
    }

    private static float[] ReadArray(ReadOnlySpan<byte> json, ref Utf8JsonReader reader)
    {
        // Values go into a pooled buffer first (the length is unknown until the end), then one exact-size array.
        var buffer = System.Buffers.ArrayPool<float>.Shared.Rent(256);
        try
        {
            var count = 0;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (count == buffer.Length)
                {
                    var bigger = System.Buffers.ArrayPool<float>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan().CopyTo(bigger);
                    System.Buffers.ArrayPool<float>.Shared.Return(buffer);
                    buffer = bigger;
                }
                buffer[count] = Number(json, ref reader, count, null);
                count++;
            }
            return buffer.AsSpan(0, count).ToArray();
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(buffer);
        }
    }

    private static Dictionary<string, float> ReadObject(ReadOnlySpan<byte> json, ref Utf8JsonReader reader)
    {
        var named = new Dictionary<string, float>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            named[name] = Number(json, ref reader, -1, name);
        }
        return named;
    }

    // The value under the reader as a float. The field name (features[index] or features.name) is only built for an
    // error: formatting it for every value was most of the parser's garbage (128 strings per sample).
    private static float Number(ReadOnlySpan<byte> json, ref Utf8JsonReader reader, int index, string? name)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var d) && float.IsFinite((float)d)) return (float)d;
        var field = name is null ? $"features[{index}]" : $"features.{name}";
        var shown = DisplayText.Truncate(field);
        var number = reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out _);
        var raw = Raw(json, ref reader);
        throw number
            ? new SampleRequestException($"'{shown}' = {raw} is outside the float range.", field, raw)
            : new SampleRequestException($"'{shown}' must be a number.", field, raw);
    }

    // The raw JSON text of the value under the reader, cut for error messages (only the shown bytes are decoded: a bad
    // value may be most of a 1 MiB body); skips over an array or object.
    private static string Raw(ReadOnlySpan<byte> json, ref Utf8JsonReader reader)
    {
        var start = (int)reader.TokenStartIndex;
        if (reader.TokenType is JsonTokenType.StartArray or JsonTokenType.StartObject) reader.Skip();
        var end = (int)reader.BytesConsumed;
        return DisplayText.TruncateUtf8(json[start..end]);
    }

    private static JsonValueKind Kind(JsonTokenType token) => token switch
    {
        JsonTokenType.StartArray => JsonValueKind.Array,
        JsonTokenType.String => JsonValueKind.String,
        JsonTokenType.Number => JsonValueKind.Number,
        JsonTokenType.True => JsonValueKind.True,
        JsonTokenType.False => JsonValueKind.False,
        JsonTokenType.Null => JsonValueKind.Null,
        _ => JsonValueKind.Undefined,
    };

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
            AudioSample.RequireFeatures(runtime, null);
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
