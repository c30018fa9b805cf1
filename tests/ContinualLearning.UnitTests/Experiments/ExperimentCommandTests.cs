using System.CommandLine;
using ContinualLearning.Cli.Commands;
using ContinualLearning.Experiments;
using ContinualLearning.UnitTests.Streams;

namespace ContinualLearning.UnitTests.Experiments;

public sealed class ExperimentCommandTests
{
    private static (int Code, string Output, string Error) Invoke(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = ExperimentCommand.Build().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("--stream", "bogus", "sea, sea-shift, hyperplane, elec2, csv:<path>")]
    [InlineData("--drift", "sudden", "abrupt, gradual")]
    [InlineData("--strategy", "stateful,magic", "none, stateless, stateful, replay, ewc")]
    [InlineData("--engine", "gpu", "managed, torch")]
    [InlineData("--replay-policy", "lru", "reservoir, class-balanced")]
    public void Bad_values_name_the_option_the_value_and_the_allowed_values(string option, string value, string allowed)
    {
        var (code, _, error) = Invoke(option, value, "--samples", "1000");
        Assert.Equal(2, code);
        Assert.Contains(option, error);
        Assert.Contains(value.Split(',')[^1], error);
        Assert.Contains(allowed, error);
    }

    [Fact]
    public void Out_of_range_numbers_name_the_option()
    {
        var (code, _, error) = Invoke("--replay-ratio", "1.5");
        Assert.Equal(2, code);
        Assert.Contains("--replay-ratio", error);
        Assert.Contains("1.5", error);
    }

    [Fact]
    public void Missing_elec2_says_how_to_point_at_it()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid().ToString("N"));
        var (code, _, error) = Invoke("--stream", "elec2", "--data-dir", missing);
        Assert.Equal(2, code);
        Assert.Contains("elec2.csv not found", error);
        Assert.Contains(missing, error);
        Assert.Contains("--data-dir", error);
        Assert.Contains("CL_DATA_DIR", error);
    }

    [Fact]
    public void A_small_run_writes_the_three_outputs()
    {
        var dir = Path.Combine(Path.GetTempPath(), "cl-exp-cli-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, output, error) = Invoke("--stream", "sea", "--samples", "1200", "--strategy", "stateful,replay", "--out", dir);
            Assert.True(code == 0, error);
            Assert.Contains("| last-class (baseline) |", output);
            Assert.Contains("| replay |", output);
            foreach (var f in new[] { "results.md", "accuracy.csv", "accuracy.svg" })
                Assert.True(File.Exists(Path.Combine(dir, f)), $"{f} missing");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [FactRequiresData("elec2.csv")]
    public void Elec2_previous_label_feature_is_the_label_of_the_row_before()
    {
        var plain = ExperimentStreams.Csv(DataFiles.Elec2, previousLabel: false, samples: null);
        var lagged = ExperimentStreams.Csv(DataFiles.Elec2, previousLabel: true, samples: null);
        Assert.Equal(45_312, plain.Samples);
        Assert.Equal(plain.Stream.Schema.FeatureCount + 1, lagged.Stream.Schema.FeatureCount);
        var rows = plain.Stream.Take(500).ToList();
        var withPrev = lagged.Stream.Take(500).ToList();
        Assert.Equal(0, withPrev[0].Features[^1]);
        for (var i = 1; i < rows.Count; i++)
        {
            Assert.Equal(rows[i - 1].Label, (int)withPrev[i].Features[^1]);
            Assert.Equal(rows[i].Label, withPrev[i].Label);
        }

        // With the previous row's features too: [x_t, x_{t-1}, y_{t-1}], zeros before the first row.
        var both = ExperimentStreams.Csv(DataFiles.Elec2, previousLabel: true, samples: null, previousFeatures: true);
        var f = plain.Stream.Schema.FeatureCount;
        Assert.Equal(2 * f + 1, both.Stream.Schema.FeatureCount);
        var lag = both.Stream.Take(500).ToList();
        Assert.All(lag[0].Features.Skip(f).Take(f), v => Assert.Equal(0, v));
        for (var i = 1; i < rows.Count; i++)
        {
            Assert.Equal(rows[i].Features, lag[i].Features.Take(f));
            Assert.Equal(rows[i - 1].Features, lag[i].Features.Skip(f).Take(f));
            Assert.Equal(rows[i - 1].Label, (int)lag[i].Features[^1]);
        }
    }
}
