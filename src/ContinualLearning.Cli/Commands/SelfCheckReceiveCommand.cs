using System.CommandLine;
using System.Globalization;
using ContinualLearning.Deltas;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.Cli.Commands;

/// <summary>
/// `cl selfcheck receive`: the other end of `--mqtt` — waits for one delta from any device of the fleet, decodes
/// and validates it. It lets a host (x64) process check what an emulated arm64 device sent, before the aggregator exists.
/// </summary>
internal static class SelfCheckReceiveCommand
{
    public static Command Build()
    {
        var mqtt = new Option<string>("--mqtt") { Description = "host:port of the broker.", Required = true };
        var fleet = new Option<string>("--fleet") { Description = "Fleet name in the topic.", DefaultValueFactory = _ => "selfcheck" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for a delta.", DefaultValueFactory = _ => 300 };
        var command = new Command("receive", "Wait for one delta on cl/<fleet>/device/+/delta, decode it and print its header.") { mqtt, fleet, timeout };
        var credentials = CliCommon.CredentialOptions();
        credentials.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var (host, port) = SelfCheckCommand.ParseBroker(parse.GetValue(mqtt)!);
            var c = credentials.Read(parse);
            var received = new TaskCompletionSource<FleetMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var client = new FleetMqttClient(new FleetMqttClientOptions
            {
                ClientId = $"selfcheck-receiver-{Environment.ProcessId}", Host = host, Port = port, CleanStart = true,
                Tls = c.Tls, Username = c.Username, Password = c.Password,
            });
            client.MessageReceived += message =>
            {
                received.TrySetResult(message);
                return Task.CompletedTask;
            };
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(TimeSpan.FromSeconds(parse.GetValue(timeout)));
            var topic = FleetTopics.AllDevices(parse.GetValue(fleet)!, FleetTopicKind.DeviceDelta);
            await client.StartAsync(deadline.Token);
            await client.SubscribeAsync(topic, cancellationToken: deadline.Token);
            SelfCheckCommand.Report("subscribed", topic);
            FleetMessage message;
            try
            {
                message = await received.Task.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine($"selfcheck receive: no delta arrived on '{topic}' within {parse.GetValue(timeout)} s.");
                return 1;
            }
            var delta = DeltaCodec.Decode(message.Payload);
            var values = delta.ToDense().SelectMany(t => t.Data);
            SelfCheckCommand.Report("received_topic", message.Topic);
            SelfCheckCommand.Report("received_bytes", message.Payload.Length);
            SelfCheckCommand.Report("received_device", delta.Header.DeviceId);
            SelfCheckCommand.Report("received_delta_id", delta.Header.DeltaId);
            SelfCheckCommand.Report("received_samples", delta.Header.SampleCount);
            SelfCheckCommand.Report("received_tensors", string.Join(",", delta.Tensors.Select(t => t.ToString())));
            SelfCheckCommand.Report("received_norm", Delta.L2Norm(delta).ToString("0.0000", CultureInfo.InvariantCulture));
            var finite = values.All(float.IsFinite);
            SelfCheckCommand.Report("result", finite ? "ok" : "failed");
            await client.StopAsync();
            return finite ? 0 : 1;
        });
        return command;
    }
}
