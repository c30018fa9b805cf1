using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace ContinualLearning.Aggregator.Console;

/// <summary>Columns the device table sorts by.</summary>
internal enum DeviceSort
{
    DeviceId,
    State,
    Version,
    Cohort,
    LastSeen,
    Accuracy,
}

/// <summary>A query parameter the API could not use: its name and what is wrong with it.</summary>
internal sealed class BadParameterException(string parameter, string message) : Exception(message)
{
    public string Parameter { get; } = parameter;
}

/// <summary>The parameters of <c>GET /api/v1/devices</c>, read and checked (a bad one is a 400 naming it).</summary>
internal sealed record DeviceQuery(string? Search, DeviceSort Sort, bool Descending, int Offset, int Limit)
{
    public const int MaxLimit = 500;
    public const int MaxSearchLength = 200;

    public static DeviceQuery Parse(IQueryCollection query)
    {
        var search = query["search"].ToString();
        if (search.Length > MaxSearchLength) throw new BadParameterException("search", $"search is longer than {MaxSearchLength} characters; shorten it.");
        var sortText = query["sort"].ToString();
        DeviceSort sort = sortText switch
        {
            "" or "deviceId" => DeviceSort.DeviceId,
            "state" => DeviceSort.State,
            "version" => DeviceSort.Version,
            "cohort" => DeviceSort.Cohort,
            "lastSeen" => DeviceSort.LastSeen,
            "accuracy" => DeviceSort.Accuracy,
            _ => throw new BadParameterException("sort", "sort must be one of deviceId, state, version, cohort, lastSeen, accuracy."),
        };
        var descending = query["order"].ToString() switch
        {
            "" or "asc" => false,
            "desc" => true,
            _ => throw new BadParameterException("order", "order must be asc or desc."),
        };
        return new DeviceQuery(search.Length == 0 ? null : search, sort, descending,
            Whole(query, "offset", 0, 0, int.MaxValue), Whole(query, "limit", 50, 1, MaxLimit));
    }

    /// <summary>A whole-number parameter in [min, max], or <paramref name="fallback"/> when absent.</summary>
    public static int Whole(IQueryCollection query, string name, int fallback, int min, int max)
    {
        ArgumentNullException.ThrowIfNull(query);
        var text = query[name].ToString();
        if (text.Length == 0) return fallback;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            throw new BadParameterException(name, $"{name} must be a whole number from {min} to {max}.");
        return value;
    }
}
