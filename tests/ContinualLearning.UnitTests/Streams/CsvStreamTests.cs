using ContinualLearning.Streams;

namespace ContinualLearning.UnitTests.Streams;

public sealed class CsvStreamTests
{
    private static CsvStream Parse(string text, CsvStreamOptions? options = null) =>
        CsvStream.Read(new StringReader(text), "test.csv", options);

    [Fact]
    public void Reads_features_in_file_order_excluding_date_and_maps_classes_ordinally()
    {
        var s = Parse("date,a,b,class\n0,1.5,2,UP\n1,3,4.25,DOWN\n\n");
        Assert.Equal(["a", "b"], s.Schema.Features);
        Assert.Equal(["DOWN", "UP"], s.Schema.Classes);
        Assert.Equal(2, s.Count);
        Assert.Equal([1.5f, 2f], s[0].Features);
        Assert.Equal(1, s[0].Label);
        Assert.Equal(0, s[1].Label);
    }

    [Fact]
    public void Explicit_feature_columns_and_classes_are_honoured()
    {
        var s = Parse("x,y,z,label\n1,2,3,b\n4,5,6,a\n", new CsvStreamOptions { LabelColumn = "label", FeatureColumns = ["z", "x"], Classes = ["b", "a"] });
        Assert.Equal([3f, 1f], s[0].Features);
        Assert.Equal(0, s[0].Label);
        Assert.Equal(1, s[1].Label);
    }

    [Theory]
    [InlineData("a,class\n1,UP\n2x,UP\n", 3, "a", "2x", "not a finite number")]
    [InlineData("a,class\n1,UP\n2,UP,extra\n", 3, null, null, "expected 2 fields")]
    [InlineData("a,b\n1,2\n", 1, "class", null, "label column not found")]
    [InlineData("a,class\n1,UP\nNaN,UP\n", 3, "a", "NaN", "not a finite number")]
    [InlineData("a,class\n1,\n", 2, "class", "", "label is empty")]
    public void Bad_input_is_reported_with_line_column_and_value(string text, int line, string? column, string? value, string problem)
    {
        var ex = Assert.Throws<CsvDataException>(() => Parse(text));
        Assert.Equal("test.csv", ex.File);
        Assert.Equal(line, ex.Line);
        Assert.Equal(column, ex.Column);
        Assert.Equal(value, ex.Value);
        Assert.Contains(problem, ex.Message);
        Assert.StartsWith($"test.csv, line {line}", ex.Message);
    }

    [Fact]
    public void Unknown_class_names_its_line()
    {
        var ex = Assert.Throws<CsvDataException>(() => Parse("a,class\n1,UP\n\n2,SIDEWAYS\n", new CsvStreamOptions { Classes = ["DOWN", "UP"] }));
        Assert.Equal(4, ex.Line);
        Assert.Equal("SIDEWAYS", ex.Value);
    }

    [Fact]
    public void Missing_file_says_which_path()
    {
        var path = Path.Combine(Path.GetTempPath(), $"no-such-{Guid.NewGuid():N}.csv");
        var ex = Assert.Throws<FileNotFoundException>(() => CsvStream.Load(path));
        Assert.Contains(path, ex.Message);
    }

    [FactRequiresData("elec2.csv")]
    public void Elec2_loads_day_to_transfer_as_seven_features_without_date()
    {
        var elec = CsvStream.Load(DataFiles.Elec2);
        Assert.Equal(45_312, elec.Count);
        Assert.Equal(["day", "period", "nswprice", "nswdemand", "vicprice", "vicdemand", "transfer"], elec.Schema.Features);
        Assert.Equal(["DOWN", "UP"], elec.Schema.Classes);
        Assert.Equal(19_237, elec.Count(s => s.Label == 1));
    }
}
