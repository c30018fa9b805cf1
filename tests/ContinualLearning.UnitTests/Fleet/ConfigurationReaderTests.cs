using ContinualLearning.Fleet.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ContinualLearning.UnitTests.Fleet;

/// <summary>How both services read configuration values, collect problems and validate through the options pattern.</summary>
public sealed class ConfigurationReaderTests
{
    private readonly ConfigurationReader _reader = new(LayeredConfiguration.Build(new ConfigurationLayers("test")));

    [Theory]
    [InlineData("true", true)]
    [InlineData("False", false)]
    [InlineData("1", true)]
    [InlineData("yes", true)]
    [InlineData("ON", true)]
    [InlineData("0", false)]
    [InlineData("no", false)]
    [InlineData("off", false)]
    public void Booleans_are_read_in_the_forms_environment_variables_use(string raw, bool expected)
    {
        Assert.Equal(expected, _reader.Bool("k", raw, !expected));
        Assert.Empty(_reader.Errors);
    }

    [Fact]
    public void Unset_or_blank_values_fall_back_to_the_default()
    {
        Assert.True(_reader.Bool("k", null, true));
        Assert.Equal(7, _reader.WholeNumber("k", "  ", 7));
        Assert.Equal(0.5, _reader.Number("k", null, 0.5));
        Assert.Equal(TimeSpan.FromMinutes(1), _reader.Duration("k", "", TimeSpan.FromMinutes(1)));
        Assert.Null(ConfigurationReader.Text(" "));
        Assert.Equal("x", ConfigurationReader.Text(" x "));
        Assert.Empty(_reader.Errors);
    }

    [Fact]
    public void Every_unreadable_value_is_recorded_with_its_key_and_the_default_kept()
    {
        Assert.False(_reader.Bool("a", "maybe", false));
        Assert.Equal(64, _reader.WholeNumber("b", "many", 64));
        Assert.Equal(64L, _reader.WholeNumber("c", "1.5", 64L));
        Assert.Equal(0.01, _reader.Number("d", "1,5", 0.01));
        Assert.Equal(0.01, _reader.Number("e", "NaN", 0.01));
        Assert.Null(_reader.OptionalWholeNumber<int>("f", "seventeen", "use a pin number"));

        Assert.Equal(
            [("a", "maybe", "is not a boolean"), ("b", "many", "is not an integer"), ("c", "1.5", "is not an integer"), ("d", "1,5", "is not a number"), ("e", "NaN", "is not a number"), ("f", "seventeen", "is not an integer")],
            _reader.Errors.Select(e => (e.Key, e.Value!, e.Problem)));
        Assert.Contains("default 64", _reader.Errors[1].Fix, StringComparison.Ordinal);
        Assert.Equal("use a pin number", _reader.Errors[5].Fix);
    }

    [Fact]
    public void An_empty_optional_number_turns_the_setting_off_an_unset_one_keeps_the_default()
    {
        Assert.Equal(10.0, _reader.OptionalNumber("k", null, 10.0));
        Assert.Null(_reader.OptionalNumber("k", "", 10.0));
        Assert.Equal(2.5, _reader.OptionalNumber("k", "2.5", 10.0));
        Assert.Empty(_reader.Errors);
    }

    [Theory]
    [InlineData("class-balanced", TestKind.ClassBalanced)]
    [InlineData("ClassBalanced", TestKind.ClassBalanced)]
    [InlineData("class_balanced", TestKind.ClassBalanced)]
    [InlineData("RESERVOIR", TestKind.Reservoir)]
    public void Enums_are_read_by_name_in_kebab_pascal_or_snake_case(string raw, TestKind expected)
    {
        Assert.Equal(expected, _reader.Enum("k", raw, TestKind.Reservoir == expected ? TestKind.ClassBalanced : TestKind.Reservoir));
        Assert.Empty(_reader.Errors);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("gpu")]
    public void Numbers_and_unknown_names_are_not_enum_values(string raw)
    {
        Assert.Equal(TestKind.Reservoir, _reader.Enum("k", raw, TestKind.Reservoir));

        var error = Assert.Single(_reader.Errors);
        Assert.Equal("is not one of the allowed values", error.Problem);
        Assert.Equal("use one of: reservoir, class-balanced", error.Fix);
    }

    [Fact]
    public void Durations_are_hh_mm_ss_and_a_bare_number_is_refused()
    {
        Assert.Equal(TimeSpan.FromSeconds(90), _reader.Duration("a", "00:01:30", TimeSpan.Zero));
        Assert.Equal(TimeSpan.FromDays(1.5), _reader.Duration("b", "1.12:00:00", TimeSpan.Zero));
        Assert.Equal(TimeSpan.FromMinutes(1), _reader.Duration("c", "60", TimeSpan.FromMinutes(1)));
        Assert.Equal(TimeSpan.FromSeconds(2.5), _reader.Seconds("d", "2.5", TimeSpan.Zero));
        Assert.Equal(TimeSpan.FromHours(1), _reader.Minutes("e", "60", TimeSpan.Zero));

        var error = Assert.Single(_reader.Errors);
        Assert.Equal(("c", "60", "is not a duration", "use hh:mm:ss, e.g. 00:01:00"), (error.Key, error.Value, error.Problem, error.Fix));
    }

    [Theory]
    [InlineData("host", "host", 1883)]
    [InlineData("host:8883", "host", 8883)]
    [InlineData("[::1]:1884", "::1", 1884)]
    [InlineData("[::1]", "::1", 1883)]
    public void Parses_host_port(string value, string host, int port)
    {
        Assert.True(ConfigurationReader.TryParseHostPort(value, 1883, out var h, out var p));
        Assert.Equal((host, port), (h, p));
    }

    [Theory]
    [InlineData("broker:notaport")]
    [InlineData(":1883")]
    [InlineData("host:-1")]
    public void Refuses_what_is_not_host_port(string value)
    {
        Assert.Equal(("fallback", 1), _reader.HostPort("broker", value, "fallback", 1));
        Assert.Equal(("broker", value, "is not host:port"), (_reader.Errors[0].Key, _reader.Errors[0].Value, _reader.Errors[0].Problem));
    }

    [Fact]
    public void Complete_lists_unreadable_values_first_then_rule_violations_on_other_keys_with_their_sources()
    {
        var layers = LayeredConfiguration.Build(new ConfigurationLayers("test")
        {
            Flags = ConfigurationFlags.From(new Dictionary<string, string?> { ["size"] = "big", ["name"] = "" }).Set("size", "--size", "big"),
        });
        var reader = new ConfigurationReader(layers);
        var options = new TestOptions { Size = reader.WholeNumber("size", layers.Configuration["size"], 0), Name = ConfigurationReader.Text(layers.Configuration["name"]) };

        var ex = Assert.Throws<ConfigurationException>(() => reader.Complete(options, new TestValidator()));

        // "size" is not also reported as "must be positive": that is only the default standing in for the unreadable value.
        Assert.Equal(["size", "name"], ex.Errors.Select(e => e.Key));
        Assert.Equal("--size", ex.Errors[0].Source);
        Assert.Equal("command line", ex.Errors[1].Source);
        Assert.Equal("test", ex.Service);
    }

    [Fact]
    public void Complete_returns_valid_options()
    {
        var options = new TestOptions { Size = 1, Name = "n" };

        Assert.Same(options, _reader.Complete(options, new TestValidator()));
    }

    [Fact]
    public void A_validator_reports_every_broken_rule_through_the_options_interface_too()
    {
        var validator = new TestValidator();
        var broken = new TestOptions { Size = 0, Name = null };

        Assert.Equal(["size", "name"], Assert.Throws<ConfigurationException>(() => validator.ThrowIfInvalid(broken)).Errors.Select(e => e.Key));
        var result = validator.Validate(Options.DefaultName, broken);
        Assert.True(result.Failed);
        Assert.Equal(["size = '0': must be positive; use e.g. 1.", "name = (not set): is required; set it."], result.Failures);
        Assert.True(validator.Validate(Options.DefaultName, new TestOptions { Size = 1, Name = "n" }).Succeeded);
    }

    [Fact]
    public async Task Options_registered_for_the_host_are_the_loaded_instance_and_checked_again_at_start()
    {
        var good = new TestOptions { Size = 1, Name = "n" };
        using (var host = BuildHost(good))
        {
            await host.StartAsync();
            Assert.Same(good, host.Services.GetRequiredService<IOptions<TestOptions>>().Value);
            Assert.Same(good, host.Services.GetRequiredService<TestOptions>());
            await host.StopAsync();
        }

        using var bad = BuildHost(new TestOptions { Size = -1, Name = "n" });
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => bad.StartAsync());
        Assert.Equal("size = '-1': must be positive; use e.g. 1.", Assert.Single(ex.Failures));
    }

    [Fact]
    public void Id_rule_requires_a_topic_level()
    {
        var errors = new List<ConfigurationError>();
        ConfigurationRules.Id(errors, "a", "plant-1", "set a");
        ConfigurationRules.Id(errors, "b", null, "set b");
        ConfigurationRules.Id(errors, "c", "x/y", "set c");

        Assert.Equal([("b", "is required", "set b"), ("c", "is not a valid id", "use 1–128 letters, digits, '-', '_' or '.' (no '/', '+', '#' or leading '$')")], errors.Select(e => (e.Key, e.Problem, e.Fix)));
    }

    private static IHost BuildHost(TestOptions options)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddValidatedOptions(options, new TestValidator());
        return builder.Build();
    }

    public enum TestKind
    {
        Reservoir,
        ClassBalanced,
    }

    public sealed record TestOptions
    {
        public int Size { get; init; }

        public string? Name { get; init; }
    }

    private sealed class TestValidator() : ConfigurationValidator<TestOptions>("test")
    {
        protected override void Check(TestOptions options, ICollection<ConfigurationError> errors)
        {
            ConfigurationRules.Require(errors, options.Size > 0, "size", options.Size, "must be positive", "use e.g. 1");
            if (options.Name is null) errors.Add(new("name", null, "is required", "set it"));
        }
    }
}
