using System.Text.Json;
using ContinualLearning.Learning;
using ContinualLearning.Text;
using Microsoft.AspNetCore.Http;

namespace ContinualLearning.Device.Serving;

/// <summary>
/// <c>POST /classes {"name": "..."}</c>: teaches the model a new class (<see cref="ContinualLearner.AddClassAsync"/>).
/// 201 with the class's index, the new version and the label names; 403 when <c>learning:allowNewClasses</c> is off; 409
/// for a duplicate name, the class cap or a head that cannot grow; 400 for a bad body or name; 503 without a model.
/// </summary>
internal static class ClassesEndpoint
{
    /// <summary>A class name is at most 64 characters, so a small body cap is plenty.</summary>
    private const int MaxBodyBytes = 4096;

    public static async Task HandleAsync(HttpContext http, DeviceRuntime runtime)
    {
        var result = await ResultAsync(http, runtime).ConfigureAwait(false);
        await result.ExecuteAsync(http).ConfigureAwait(false);
    }

    private static async Task<IResult> ResultAsync(HttpContext http, DeviceRuntime runtime)
    {
        try
        {
            var body = await LocalApi.ReadBodyAsync(http, MaxBodyBytes).ConfigureAwait(false);
            var name = ParseName(body.Span);
            var learner = runtime.Learner ?? throw new NoModelException();
            var added = await learner.AddClassAsync(name, http.RequestAborted).ConfigureAwait(false);
            return Results.Json(new ClassAddedBody(added.Name, added.Index, added.ModelVersion, added.LabelNames),
                LocalApiJson.Default.ClassAddedBody, statusCode: StatusCodes.Status201Created);
        }
        catch (SampleRequestException ex)
        {
            runtime.Metrics.CountRejectedRequest();
            return Error(ex.Message, ex.Field, ex.Value, ex.StatusCode);
        }
        catch (ClassRejectedException ex)
        {
            runtime.Metrics.CountRejectedRequest();
            return Error(ex.Message, "name", null, ex.Reason switch
            {
                ClassRejection.Disabled => StatusCodes.Status403Forbidden,
                ClassRejection.InvalidName => StatusCodes.Status400BadRequest,
                _ => StatusCodes.Status409Conflict,
            });
        }
        catch (NoModelException ex)
        {
            return Error(ex.Message, null, null, StatusCodes.Status503ServiceUnavailable);
        }
    }

    private static string ParseName(ReadOnlySpan<byte> json)
    {
        const string expected = "The body must be {\"name\": \"<class name>\"}.";
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) throw new SampleRequestException(expected, null, null);
            string? name = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isName = reader.ValueTextEquals("name"u8);
                reader.Read();
                if (isName && reader.TokenType == JsonTokenType.String) name = reader.GetString();
                else if (isName) throw new SampleRequestException("'name' must be a string.", "name", null);
                else reader.Skip();
            }
            return name ?? throw new SampleRequestException(expected, "name", null);
        }
        catch (JsonException ex)
        {
            throw new SampleRequestException($"The body is not valid JSON ({DisplayText.Truncate(ex.Message)}). {expected}", null, null);
        }
    }

    private static IResult Error(string message, string? field, string? value, int status) =>
        Results.Json(new LocalApi.ErrorBody(message, field, value), LocalApiJson.Default.ErrorBody, statusCode: status);

    /// <summary>The body of an added class.</summary>
    public sealed record ClassAddedBody(string Name, int Index, string ModelVersion, IReadOnlyList<string> LabelNames);
}
