using System.Text;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.UnitTests.Fleet;

public class ProtocolMessageTests
{
    [Fact]
    public void Topics_follow_the_scheme_and_parse_back()
    {
        Assert.Equal("cl/plant1/device/pi-07/status", FleetTopics.Status("plant1", "pi-07"));
        Assert.Equal("cl/plant1/device/pi-07/delta", FleetTopics.DeltaTopic("plant1", "pi-07"));
        Assert.Equal("cl/plant1/model/elec2/release", FleetTopics.Release("plant1", "elec2"));
        Assert.Equal("cl/plant1/model/elec2/1.12.0/chunk/3", FleetTopics.Chunk("plant1", "elec2", "1.12.0", 3));
        Assert.Equal("cl/plant1/device/+/telemetry", FleetTopics.AllDevices("plant1", FleetTopicKind.DeviceTelemetry));

        Assert.Equal(new FleetTopic(FleetTopicKind.DeviceCommand, "plant1", DeviceId: "pi-07"), FleetTopics.TryParse("cl/plant1/device/pi-07/cmd"));
        Assert.Equal(new FleetTopic(FleetTopicKind.ModelChunk, "plant1", ModelName: "elec2", Version: "1.12.0", ChunkIndex: 3), FleetTopics.TryParse("cl/plant1/model/elec2/1.12.0/chunk/3"));
        Assert.Null(FleetTopics.TryParse("cl/plant1/device/pi-07/other"));
        Assert.Null(FleetTopics.TryParse("cl/plant1/model/elec2/-1/chunk/3"));
        Assert.Null(FleetTopics.TryParse("other/plant1/device/pi-07/cmd"));
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("dev+")]
    [InlineData("#")]
    [InlineData("")]
    [InlineData("$SYS")]
    [InlineData("tab\there")]
    public void Ids_that_could_escape_their_topic_level_are_refused(string id)
    {
        var ex = Assert.Throws<ArgumentException>(() => FleetTopics.Status("fleet", id));
        Assert.Contains("deviceId", ex.Message);
        Assert.False(FleetTopics.IsValidId(id));
    }

    [Fact]
    public void Json_is_camel_case_with_v_and_kebab_case_commands()
    {
        var json = Encoding.UTF8.GetString(FleetJson.Serialize(new Command
        {
            CommandId = "c1",
            Kind = CommandKind.WipeData,
            IssuedAt = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000),
        }));
        Assert.Equal("""{"v":1,"commandId":"c1","kind":"wipe-data","issuedAt":"2023-11-14T22:13:20+00:00"}""", json);
        var status = Encoding.UTF8.GetString(FleetJson.Serialize(DeviceStatus.Offline("pi-07")));
        Assert.Contains("\"state\":\"offline\"", status);
        Assert.Equal(CommandKind.SetConfig, FleetJson.ReadCommand("""{"v":1,"commandId":"x","kind":"set-config","args":{"trigger":"drift"}}"""u8).Kind);
    }

    [Fact]
    public void Newer_schema_versions_and_bad_json_are_refused_clearly()
    {
        var newer = Assert.Throws<FleetMessageException>(() => FleetJson.ReadTelemetry("""{"v":2,"deviceId":"d"}"""u8));
        Assert.Contains("v=2", newer.Message);
        var bad = Assert.Throws<FleetMessageException>(() => FleetJson.ReadCommand("""{"v":1,"commandId":"x","kind":"explode"}"""u8));
        Assert.Contains("Command", bad.Message);
        Assert.Throws<FleetMessageException>(() => FleetJson.ReadStatus("""{"v":1}"""u8)); // required deviceId/state missing
    }

    [Fact]
    public void Bundle_chunk_round_trips_and_detects_damage()
    {
        var data = Enumerable.Range(0, 300).Select(i => (byte)i).ToArray();
        var chunk = new BundleChunk("elec2", "1.12.0", 3, 5, data);
        var wire = chunk.Encode();
        var back = BundleChunk.Decode(wire);
        Assert.Equal(("elec2", "1.12.0", 3, 5), (back.ModelName, back.Version, back.Index, back.Count));
        Assert.Equal(data, back.Data);

        var flipped = (byte[])wire.Clone();
        flipped[40] ^= 1;
        Assert.Contains("SHA-256", Assert.Throws<FleetMessageException>(() => BundleChunk.Decode(flipped)).Message);
        Assert.Throws<FleetMessageException>(() => BundleChunk.Decode(wire.AsSpan(0, wire.Length - 1)));
        var rng = new Random(8);
        for (var i = 0; i < 500; i++)
        {
            var cut = wire.AsSpan(0, rng.Next(wire.Length)).ToArray();
            if (cut.Length > 0) cut[rng.Next(cut.Length)] ^= (byte)(1 << rng.Next(8));
            Assert.Throws<FleetMessageException>(() => BundleChunk.Decode(cut));
        }
    }
}
