using System.Net.Sockets;
using System.Security.Authentication;
using MQTTnet;

namespace ContinualLearning.Fleet.Client;

/// <summary>
/// Errors a user can act on when a connect fails. MQTTnet's own messages name neither the broker nor the setting to
/// change (a rejected broker certificate only says "rejected by the provided RemoteCertificateValidationCallback"), and
/// <see cref="FleetMqttClient.ConnectFailed"/> is all a device log shows, so both are added here.
/// </summary>
internal static class ConnectFailures
{
    /// <summary>CONNACK refusal: which broker, which client, the MQTT 5 reason code and what to check for that code.</summary>
    public static string RefusalMessage(FleetMqttClientOptions options, MqttClientConnectResult result)
    {
        var hint = result.ResultCode switch
        {
            // Mosquitto 2 answers a wrong password with NotAuthorized (0x87), not BadUserNameOrPassword (0x86).
            MqttClientConnectResultCode.NotAuthorized or MqttClientConnectResultCode.BadUserNameOrPassword or MqttClientConnectResultCode.BadAuthenticationMethod
                => options.Username is null && options.Tls?.ClientCertificates is null
                    ? "no username and no client certificate were sent and the broker does not allow anonymous clients: set the username and password (device: broker:username, broker:password) or a client certificate"
                    : $"check the username '{options.Username ?? "(none)"}' and its password against the broker's password file, or that the client certificate is signed by the broker's CA",
            MqttClientConnectResultCode.ClientIdentifierNotValid => $"the broker rejects the client id '{options.ClientId}'; use a shorter id without special characters",
            MqttClientConnectResultCode.Banned => "the broker banned this client; ask the broker operator",
            MqttClientConnectResultCode.ServerUnavailable or MqttClientConnectResultCode.ServerBusy => "the broker is overloaded or shutting down; the client keeps retrying",
            _ => "check the broker log for this client id",
        };
        var reason = string.IsNullOrEmpty(result.ReasonString) ? "" : $" ('{result.ReasonString}')";
        return $"The broker {options.Host}:{options.Port} refused client '{options.ClientId}' with reason code {result.ResultCode} ({(int)result.ResultCode}){reason}: {hint}.";
    }

    /// <summary>Turns a failed connect into an error naming the broker and what to check. The original exception stays as InnerException.</summary>
    public static Exception Describe(FleetMqttClientOptions options, Exception ex)
    {
        if (ex is InvalidOperationException) return ex; // our own CONNACK refusal, already described
        var broker = $"{options.Host}:{options.Port}";
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is AuthenticationException auth)
            {
                var targetHost = options.Tls?.TargetHost ?? options.Host;
                var hint = auth.Message.Contains("remote certificate", StringComparison.OrdinalIgnoreCase)
                    ? $"the broker's certificate is not trusted: check that the trusted CA (device: broker:tlsCaFile) is the CA that signed the broker's certificate and that the certificate names '{targetHost}' (subject alternative name). Setting AllowUntrustedCertificates (broker:tlsAllowUntrusted) skips this check and is for testing only"
                    : "check that the broker listens with TLS on this port, that TLS versions match, and, if the broker requires client certificates, that one signed by its CA is configured";
                return new InvalidOperationException($"TLS handshake with broker {broker} failed for client '{options.ClientId}' ({auth.Message}): {hint}.", ex);
            }
            if (e is SocketException socket && IsUnreachable(socket.SocketErrorCode))
                return new InvalidOperationException($"Cannot reach broker {broker} for client '{options.ClientId}' ({socket.SocketErrorCode}: {socket.Message}): check the host and port (device: broker:host, broker:port) and that the broker is running.", ex);
        }
        if (ex is OperationCanceledException)
            return new TimeoutException($"Broker {broker} did not answer client '{options.ClientId}' within {options.ConnectTimeout.TotalSeconds:0.#} s: check the port, and that TLS is on when the broker expects it (and off when not).", ex);
        // With TLS 1.3 the client finishes its half of the handshake before the broker checks the client certificate,
        // so a broker that requires one (Mosquitto require_certificate) shows up only as a socket closed under the
        // CONNECT packet ("Transport endpoint is not connected" / "Connection reset"), not as a TLS error.
        var tlsHint = options.Tls is null
            ? "check the broker log for this client id"
            : options.Tls.ClientCertificates is null
                ? "the broker may require a client certificate (require_certificate): configure one signed by the broker's CA, and check the broker log"
                : "the broker may have rejected the client certificate: check it is signed by the CA the broker trusts (cafile) and not expired, and check the broker log";
        return new InvalidOperationException($"Broker {broker} closed the connection of client '{options.ClientId}' while connecting ({ex.GetType().Name}: {ex.Message}): {tlsHint}.", ex);
    }

    /// <summary>Socket errors that mean the TCP connect itself failed, as opposed to a broker that hung up afterwards.</summary>
    private static bool IsUnreachable(SocketError error) => error is
        SocketError.ConnectionRefused or SocketError.HostNotFound
        or SocketError.HostUnreachable or SocketError.NetworkUnreachable
        or SocketError.TimedOut or SocketError.TryAgain or SocketError.NoData;
}
