using System.CommandLine;
using System.Text.Json;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Configuration;

namespace ContinualLearning.Cli.Commands;

/// <summary>Options and helpers shared by the fleet, model, device and aggregator commands.</summary>
internal static class CliCommon
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Option<bool> JsonOption() => new("--json") { Description = "Print JSON for scripts instead of a table." };

    public static Option<string> BrokerOption() => new("--broker")
    {
        Description = "MQTT broker as host:port.",
        DefaultValueFactory = _ => "127.0.0.1:1883",
    };

    public static Option<string> FleetOption() => new("--fleet")
    {
        Description = "Fleet name (the second level of every topic).",
        DefaultValueFactory = _ => "default",
    };

    public static Option<string> RegistryOption() => new("--registry")
    {
        Description = "Aggregator registry directory (registry.db + artifacts/).",
        DefaultValueFactory = _ => "registry",
    };

    public static (string Host, int Port) ParseBroker(string broker)
    {
        var colon = broker.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(broker[(colon + 1)..], out var port) || port is <= 0 or > 65535)
            throw new CliException($"--broker '{broker}' is not host:port (e.g. 127.0.0.1:1883).");
        return (broker[..colon], port);
    }

    /// <summary>The TLS and credential flags of a command that connects to the broker.</summary>
    public static BrokerCredentialOptions CredentialOptions() => new();

    public static FleetMqttClient Client(string broker, string clientPrefix, BrokerCredentials? credentials = null)
    {
        var (host, port) = ParseBroker(broker);
        return new FleetMqttClient(new FleetMqttClientOptions
        {
            ClientId = $"{clientPrefix}-{Guid.NewGuid():N}"[..32],
            Host = host,
            Port = port,
            Tls = credentials?.Tls,
            Username = credentials?.Username,
            Password = credentials?.Password,
            // A CLI run is short-lived; leave no session behind on the broker.
            CleanStart = true,
            SessionExpirySeconds = 0,
            ConnectTimeout = TimeSpan.FromSeconds(5),
        });
    }

    /// <summary>Connects or fails with a readable message within the timeout.</summary>
    public static async Task ConnectAsync(FleetMqttClient client, string broker, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        Exception? lastFailure = null;
        client.ConnectFailed += (ex, _) => lastFailure = ex;
        try
        {
            await client.StartAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The client's own message says why (certificate not trusted, not authorized, refused) and which setting to check.
            throw new CliException($"Could not connect to the MQTT broker at {broker} within 10 s: "
                + (lastFailure?.Message ?? "no answer; check --broker and that the broker runs."));
        }
    }

    /// <summary>
    /// Runs a command body, turning expected failures into one readable line on stderr and exit code 1; an invalid
    /// service configuration lists every problem and exits with 2, as <c>cl device run</c> does.
    /// </summary>
    public static async Task<int> Guard(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (ConfigurationException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            return 2;
        }
        catch (Exception ex) when (ex is CliException or ArgumentException or InvalidOperationException or IOException or TimeoutException
            or System.Security.Cryptography.CryptographicException or ContinualLearning.Bundle.BundleException or JsonException or FormatException)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}");
            return 1;
        }
    }
}

/// <summary>A user error the CLI reports as one line.</summary>
internal sealed class CliException(string message) : Exception(message);
