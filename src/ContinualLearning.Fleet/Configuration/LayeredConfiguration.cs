using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.Configuration.Memory;

namespace ContinualLearning.Fleet.Configuration;

/// <summary>The layers of one service's configuration; later layers win.</summary>
/// <param name="Service">The service's name in error messages ("device", "aggregator").</param>
public sealed record ConfigurationLayers(string Service)
{
    /// <summary>A JSON file named by the user (<c>--config</c>); it must exist.</summary>
    public string? File { get; init; }

    /// <summary>The JSON file read when <see cref="File"/> is not given, only if it exists.</summary>
    public string? DefaultFile { get; init; }

    /// <summary>Prefix of the environment variables read (<c>CL_DEVICE_</c>); <c>__</c> in a name stands for <c>:</c>. Null skips the environment.</summary>
    public string? EnvironmentPrefix { get; init; }

    /// <summary>Values from command-line flags, by configuration key, with the flag behind each.</summary>
    public ConfigurationFlags Flags { get; init; } = new();
}

/// <summary>
/// The one layering both services use: JSON file → environment variables → command-line flags, later wins
/// (docs/device.md, docs/aggregator.md). It lives in Fleet because that is the assembly both the device and the
/// aggregator reference, and so one implementation serves both; Core stays free of Microsoft.Extensions.Configuration.
/// Besides the merged <see cref="Configuration"/> it can say which layer a key came from, for error messages and for
/// resolving relative paths against the file that named them.
/// </summary>
public sealed class LayeredConfiguration
{
    private readonly IConfigurationRoot _root;
    private readonly ConfigurationLayers _layers;

    private LayeredConfiguration(IConfigurationRoot root, ConfigurationLayers layers, string? file)
    {
        _root = root;
        _layers = layers;
        FilePath = file;
    }

    /// <summary>The merged configuration.</summary>
    public IConfiguration Configuration => _root;

    /// <summary>The JSON file that was read (full path), or null when none was.</summary>
    public string? FilePath { get; }

    /// <summary>The service's name in error messages.</summary>
    public string Service => _layers.Service;

    /// <summary>Builds the layers. A missing explicit file or invalid JSON throws <see cref="ConfigurationException"/>.</summary>
    public static LayeredConfiguration Build(ConfigurationLayers layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var builder = new ConfigurationBuilder();
        string? file = null;
        if (layers.File is not null)
        {
            if (!System.IO.File.Exists(layers.File))
                throw new ConfigurationException(layers.Service, [new ConfigurationError("--config", layers.File, "does not exist", $"give the path of a {layers.Service} JSON file (docs/{layers.Service}.md has an example)")]);
            file = Path.GetFullPath(layers.File);
        }
        else if (layers.DefaultFile is not null && System.IO.File.Exists(layers.DefaultFile))
        {
            file = Path.GetFullPath(layers.DefaultFile);
        }
        if (file is not null) builder.AddJsonFile(file, optional: false, reloadOnChange: false);
        if (layers.EnvironmentPrefix is not null) builder.AddEnvironmentVariables(layers.EnvironmentPrefix);
        builder.AddInMemoryCollection(layers.Flags.Values);
        try
        {
            return new LayeredConfiguration(builder.Build(), layers, file);
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException)
        {
            throw new ConfigurationException(layers.Service, [new ConfigurationError("--config", file, $"is not valid JSON ({ex.InnerException?.Message ?? ex.Message})", "fix the file")]);
        }
    }

    /// <summary>Which layer set <paramref name="key"/> last: "file PATH", "environment NAME", "--flag"; null when unset.</summary>
    public string? SourceOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        foreach (var provider in _root.Providers.Reverse())
        {
            if (!provider.TryGet(key, out _)) continue;
            return provider switch
            {
                JsonConfigurationProvider => $"file {FilePath}",
                EnvironmentVariablesConfigurationProvider => $"environment {_layers.EnvironmentPrefix}{key.Replace(":", "__", StringComparison.Ordinal).ToUpperInvariant()}",
                MemoryConfigurationProvider => _layers.Flags.Names.TryGetValue(key, out var flag) ? flag : "command line",
                _ => null,
            };
        }
        return null;
    }

    /// <summary>
    /// A path as the user meant it: relative to the JSON file's directory when the file set <paramref name="key"/> (so a
    /// configuration directory can be moved as a whole), else relative to the working directory.
    /// </summary>
    public string ResolvePath(string key, string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var fromFile = FilePath is not null && SourceOf(key)?.StartsWith("file ", StringComparison.Ordinal) == true;
        return Path.GetFullPath(path, fromFile ? Path.GetDirectoryName(FilePath)! : Environment.CurrentDirectory);
    }
}

/// <summary>The values a command's flags set, by configuration key, and which flag set each (for error messages).</summary>
public sealed class ConfigurationFlags
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, string> _names = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Values by configuration key.</summary>
    public IReadOnlyDictionary<string, string?> Values => _values;

    /// <summary>Flag names (<c>--broker</c>) by configuration key.</summary>
    public IReadOnlyDictionary<string, string> Names => _names;

    /// <summary>Sets <paramref name="key"/> from <paramref name="flag"/>; a null value (flag not given) sets nothing.</summary>
    public ConfigurationFlags Set(string key, string flag, string? value)
    {
        if (value is null) return this;
        _values[key] = value;
        _names[key] = flag;
        return this;
    }

    /// <summary>Values set by key alone; errors name their source "command line".</summary>
    public static ConfigurationFlags From(IEnumerable<KeyValuePair<string, string?>> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var flags = new ConfigurationFlags();
        foreach (var (key, value) in values)
            if (value is not null) flags._values[key] = value;
        return flags;
    }
}
