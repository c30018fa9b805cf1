using ContinualLearning.Fleet.Configuration;

namespace ContinualLearning.UnitTests.Fleet;

/// <summary>
/// The file → environment → flags layering both services share. Each test reads environment variables under its own
/// random prefix, so setting them cannot leak into another test's configuration.
/// </summary>
public sealed class LayeredConfigurationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-layers-").FullName;
    private readonly string _prefix = $"CL_TEST_{Guid.NewGuid():N}_";
    private readonly List<string> _variables = [];

    [Fact]
    public void Later_layers_win_file_then_environment_then_flags()
    {
        var file = WriteJson("""{"a":"file","b":"file","c":"file","nested":{"x":"file","y":"file"}}""");
        SetEnvironment("B", "env");
        SetEnvironment("C", "env");
        SetEnvironment("NESTED__X", "env");

        var layers = Build(file, new ConfigurationFlags().Set("c", "--c", "flag").Set("nested:y", "--y", "flag"));

        var c = layers.Configuration;
        Assert.Equal(("file", "env", "flag", "env", "flag"), (c["a"], c["b"], c["c"], c["nested:x"], c["nested:y"]));
        Assert.Equal(file, layers.FilePath);
    }

    [Fact]
    public void SourceOf_names_the_layer_that_set_a_key_last()
    {
        var file = WriteJson("""{"a":"file","b":"file","c":"file"}""");
        SetEnvironment("B", "env");
        SetEnvironment("C", "env");
        var layers = Build(file, new ConfigurationFlags().Set("c", "--cee", "flag").Set("d", "--dee", null));

        Assert.Equal($"file {file}", layers.SourceOf("a"));
        Assert.Equal($"environment {_prefix}B", layers.SourceOf("b"));
        Assert.Equal("--cee", layers.SourceOf("c"));
        Assert.Null(layers.SourceOf("d"));
    }

    [Fact]
    public void Flags_without_a_name_are_reported_as_the_command_line()
    {
        var layers = LayeredConfiguration.Build(new ConfigurationLayers("test") { Flags = ConfigurationFlags.From([new("k", "v")]) });

        Assert.Equal("command line", layers.SourceOf("k"));
        Assert.Null(layers.FilePath);
    }

    [Fact]
    public void Relative_paths_from_the_file_are_relative_to_the_file_others_to_the_working_directory()
    {
        var sub = Directory.CreateDirectory(Path.Combine(_dir, "conf")).FullName;
        var file = WriteJson("""{"fromFile":"keys/a.pem"}""", Path.Combine(sub, "service.json"));
        var layers = Build(file, new ConfigurationFlags().Set("fromFlag", "--f", "keys/b.pem"));

        Assert.Equal(Path.Combine(sub, "keys", "a.pem"), layers.ResolvePath("fromFile", "keys/a.pem"));
        Assert.Equal(Path.Combine(Environment.CurrentDirectory, "keys", "b.pem"), layers.ResolvePath("fromFlag", "keys/b.pem"));
        Assert.Equal("/abs/c.pem", layers.ResolvePath("fromFile", "/abs/c.pem"));
    }

    [Fact]
    public void An_explicit_file_must_exist_the_default_one_is_optional()
    {
        var missing = Path.Combine(_dir, "nope.json");

        var ex = Assert.Throws<ConfigurationException>(() => LayeredConfiguration.Build(new ConfigurationLayers("test") { File = missing }));
        var error = Assert.Single(ex.Errors);
        Assert.Equal(("--config", missing, "does not exist"), (error.Key, error.Value, error.Problem));
        Assert.Contains("docs/test.md", error.Fix, StringComparison.Ordinal);
        Assert.StartsWith("Invalid test configuration:", ex.Message, StringComparison.Ordinal);
        Assert.Equal("test", ex.Service);

        Assert.Null(LayeredConfiguration.Build(new ConfigurationLayers("test") { DefaultFile = missing }).FilePath);
    }

    [Fact]
    public void The_default_file_is_read_when_it_exists_and_no_file_is_named()
    {
        var file = WriteJson("""{"a":"default"}""");

        Assert.Equal("default", LayeredConfiguration.Build(new ConfigurationLayers("test") { DefaultFile = file }).Configuration["a"]);
    }

    [Fact]
    public void Invalid_json_is_a_configuration_error_naming_the_file()
    {
        var file = WriteJson("""{"a": 1,,}""");

        var error = Assert.Single(Assert.Throws<ConfigurationException>(() => Build(file)).Errors);

        Assert.Equal(("--config", file), (error.Key, error.Value));
        Assert.StartsWith("is not valid JSON", error.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void An_error_prints_key_value_source_problem_and_fix()
    {
        var error = new ConfigurationError("delta:topKFraction", "1.5", "is outside (0, 1]", "use e.g. 0.01") { Source = "environment CL_DEVICE_DELTA__TOPKFRACTION" };

        Assert.Equal("delta:topKFraction = '1.5' (from environment CL_DEVICE_DELTA__TOPKFRACTION): is outside (0, 1]; use e.g. 0.01.", error.ToString());
        Assert.Equal("fleet = (not set): is required; set it.", new ConfigurationError("fleet", null, "is required", "set it").ToString());
    }

    public void Dispose()
    {
        foreach (var name in _variables) Environment.SetEnvironmentVariable(name, null);
        Directory.Delete(_dir, recursive: true);
    }

    private LayeredConfiguration Build(string? file, ConfigurationFlags? flags = null) =>
        LayeredConfiguration.Build(new ConfigurationLayers("test")
        {
            File = file,
            EnvironmentPrefix = _prefix,
            Flags = flags ?? new(),
        });

    private void SetEnvironment(string name, string value)
    {
        _variables.Add(_prefix + name);
        Environment.SetEnvironmentVariable(_prefix + name, value);
    }

    private string WriteJson(string json, string? path = null)
    {
        path ??= Path.Combine(_dir, "service.json");
        File.WriteAllText(path, json);
        return path;
    }
}
