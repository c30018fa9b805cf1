namespace ContinualLearning.Aggregator;

/// <summary>Source-generated JSON for the numbers the aggregator stores with versions and decisions.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, double>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
internal sealed partial class AggregatorJson : System.Text.Json.Serialization.JsonSerializerContext;
