using ContinualLearning.Device.Agent;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.UnitTests.Device;

/// <summary>Status and telemetry without a broker, and the MQTT client settings the agent connects with.</summary>
public sealed class TelemetryReporterTests : IAsyncDisposable
{
    // An hour between reports: anything published in these tests was asked for.
    private readonly AgentParts _parts = new(o => o with { TelemetryInterval = TimeSpan.FromHours(1), Cohort = "canary" });

    private DeviceTestKit Kit => _parts.Kit;

    public ValueTask DisposeAsync() => _parts.DisposeAsync();

    [Fact]
    public void Before_the_first_model_status_and_telemetry_say_so_and_carry_no_accuracy()
    {
        _parts.Deltas.Outbox.Enqueue([1, 2, 3]);
        var status = _parts.Reporter.BuildStatus(DeviceState.Offline);
        Assert.Equal((DeviceState.Offline, DeviceTestKit.Model, "canary", null), (status.State, status.ModelName, status.Cohort, status.ModelVersion));

        var telemetry = _parts.Reporter.BuildTelemetry();
        Assert.Null(telemetry.Accuracy);
        Assert.Equal(0, telemetry.AccuracyWindow);
        Assert.Equal(1, telemetry.Extra!["queueDepth"]);
        Assert.Equal(0, telemetry.Extra["residualNorm"]);
    }

    [Fact]
    public async Task A_nudge_sends_telemetry_at_once_and_at_most_once()
    {
        using var stop = new CancellationTokenSource();
        var loop = Task.Run(() => _parts.Reporter.RunAsync(stop.Token));
        var telemetry = FleetTopics.Telemetry(Kit.Fleet, Kit.DeviceId);

        _parts.Reporter.Nudge();
        await WaitUntil(() => _parts.Connection.Published.Count == 1, "telemetry after the nudge");
        var sent = Assert.Single(_parts.Connection.Published);
        Assert.Equal((telemetry, FleetQos.AtMostOnce, false), (sent.Topic, sent.Delivery, sent.Retain));
        Assert.Equal(Kit.DeviceId, FleetJson.ReadTelemetry(sent.Payload).DeviceId);

        _parts.Reporter.Nudge();
        await WaitUntil(() => _parts.Connection.Published.Count == 2, "telemetry after the second nudge");
        await stop.CancelAsync();
        try
        {
            await loop;
        }
        catch (OperationCanceledException)
        {
        }
    }

    [Fact]
    public async Task The_status_is_published_retained_and_skipped_while_disconnected()
    {
        await _parts.Reporter.PublishStatusSafeAsync(CancellationToken.None);
        var sent = Assert.Single(_parts.Connection.Published);
        Assert.Equal((FleetTopics.Status(Kit.Fleet, Kit.DeviceId), true), (sent.Topic, sent.Retain));

        _parts.Connection.IsConnected = false;
        await _parts.Reporter.PublishStatusSafeAsync(CancellationToken.None);
        Assert.Single(_parts.Connection.Published);
    }

    [Fact]
    public void The_client_connects_as_the_device_with_an_offline_will_and_an_online_birth()
    {
        var options = Kit.Options with { Broker = new BrokerOptions { Host = "broker.local", Port = 8883, Username = "dev" } };
        var client = AgentClientOptions.Build(options, () => FleetJson.Serialize(_parts.Reporter.BuildStatus()));

        Assert.Equal((Kit.DeviceId, "broker.local", 8883, "dev"), (client.ClientId, client.Host, client.Port, client.Username));
        Assert.Null(client.Tls);
        Assert.Equal(32, client.ReceiveMaximum);
        var will = FleetJson.ReadStatus(client.Will!.Payload);
        Assert.Equal((DeviceState.Offline, "canary"), (will.State, will.Cohort));
        Assert.Equal(FleetTopics.Status(Kit.Fleet, Kit.DeviceId), client.Birth!.Topic);
        Assert.Equal(DeviceState.Online, FleetJson.ReadStatus(client.Birth.Payload()).State);

        var tls = AgentClientOptions.Build(options with { Broker = options.Broker with { Tls = true, TlsAllowUntrusted = true } }, () => []);
        Assert.True(tls.Tls!.AllowUntrustedCertificates);
    }
}
