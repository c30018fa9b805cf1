using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ContinualLearning.Fleet.Identity;
using ContinualLearning.Text;
using Microsoft.Extensions.Logging;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace ContinualLearning.Fleet.Broker;

/// <summary>
/// The checks of a secure <see cref="EmbeddedBroker"/>: the TLS client-certificate check (chain to the fleet CA only,
/// client-authentication usage), the identity a connection gets from its certificate and the client id it may use,
/// and the access rule applied to every publish (will messages included) and subscription. What it refuses is counted
/// and logged with attacker-chosen strings truncated.
/// </summary>
internal sealed partial class BrokerGuard
{
    private const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";
    private const int LoggedLength = 96;

    private readonly EmbeddedBrokerSecurity _security;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    // A client id names a session (its subscriptions and queued messages): whoever used it first owns it, so no other
    // identity can resume that session and receive what it was granted.
    private readonly ConcurrentDictionary<string, FleetIdentity> _owners = new(StringComparer.Ordinal);
    private long _refused;
    private long _deniedPublishes;
    private long _deniedSubscriptions;

    public BrokerGuard(EmbeddedBrokerSecurity security, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(security);
        if (!security.ServerCertificate.HasPrivateKey)
            throw new ArgumentException("The broker's server certificate has no private key; issue it with FleetCertificateAuthority.Issue, which returns the certificate with its key.", nameof(security));
        _security = security;
        _time = time;
        _logger = logger;
    }

    public BrokerDenials Denials => new(Interlocked.Read(ref _refused), Interlocked.Read(ref _deniedPublishes), Interlocked.Read(ref _deniedSubscriptions));

    /// <summary>The TLS handshake's client-certificate check: false ends the handshake before any MQTT packet is read.</summary>
    public bool ValidateClientCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        // Counted when the failed handshake is reported (CountRefusedHandshake), which also covers handshakes that
        // fail before this check, e.g. a plain MQTT client on the TLS port.
        if (certificate is null)
        {
            LogConnectionRefused(_logger, "TLS", "no client certificate was presented");
            return false;
        }
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        var problem = ChainProblem(leaf);
        if (problem is null) return true;
        LogConnectionRefused(_logger, "TLS", $"client certificate '{Shorten(leaf.Subject)}' refused: {problem}");
        return false;
    }

    /// <summary>Why <paramref name="leaf"/> is not a client certificate of this fleet, or null when it is.</summary>
    internal string? ChainProblem(X509Certificate2 leaf)
    {
        using var chain = new X509Chain();
        var policy = chain.ChainPolicy;
        // The system store plays no part: a certificate from any public CA is as foreign here as a self-signed one.
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.CustomTrustStore.Add(_security.CertificateAuthority);
        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.VerificationTime = _time.GetUtcNow().UtcDateTime;
        policy.ApplicationPolicy.Add(new Oid(ClientAuthentication));
        try
        {
            if (!chain.Build(leaf))
                return string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
            var root = chain.ChainElements[^1].Certificate;
            return root.RawDataMemory.Span.SequenceEqual(_security.CertificateAuthority.RawDataMemory.Span)
                ? null
                : "it does not chain to the fleet CA";
        }
        finally
        {
            foreach (var element in chain.ChainElements) element.Certificate.Dispose();
        }
    }

    /// <summary>The MQTT CONNECT check: the identity comes from the certificate (never from the username), and a device's client id is its own id.</summary>
    public Task ValidateConnectionAsync(ValidatingConnectionEventArgs e)
    {
        var certificate = e.ClientCertificate;
        if (certificate is null)
        {
            // Unreachable while the listener requires a certificate; kept so that a listener change cannot open the broker.
            Reject(e, MqttConnectReasonCode.NotAuthorized, "no client certificate on the connection");
            return Task.CompletedTask;
        }
        FleetIdentity identity;
        try
        {
            identity = FleetIdentity.FromCertificate(certificate);
            FleetIdentity.Validate(identity.Role, identity.Name);
        }
        catch (ArgumentException ex)
        {
            Reject(e, MqttConnectReasonCode.NotAuthorized, ex.Message);
            return Task.CompletedTask;
        }
        var clientId = e.ClientId ?? "";
        if (identity.Role == FleetRole.Broker)
            Reject(e, MqttConnectReasonCode.NotAuthorized, "a broker certificate is not a client identity");
        else if (clientId.Length == 0)
            Reject(e, MqttConnectReasonCode.ClientIdentifierNotValid, $"'{identity.Username}' sent an empty client id; fleet clients name their session");
        else if (identity.Role == FleetRole.Device && clientId != identity.Name)
            Reject(e, MqttConnectReasonCode.ClientIdentifierNotValid, $"device '{identity.Name}' connected as client id '{Shorten(clientId)}'; a device uses its own id");
        else if (_owners.GetOrAdd(clientId, identity) is var owner && owner != identity)
            Reject(e, MqttConnectReasonCode.NotAuthorized, $"'{identity.Username}' asked for the session of client id '{Shorten(clientId)}', which belongs to '{owner.Username}'");
        return Task.CompletedTask;
    }

    public Task InterceptPublishAsync(InterceptingPublishEventArgs e)
    {
        var topic = e.ApplicationMessage.Topic ?? "";
        if (_owners.TryGetValue(e.ClientId, out var who) && _security.Allows(who, topic, AclAccess.Publish)) return Task.CompletedTask;
        // Not delivered and not retained; an MQTT 5 QoS 1/2 publisher reads "not authorized" in its PUBACK/PUBREC.
        e.ProcessPublish = false;
        e.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
        Interlocked.Increment(ref _deniedPublishes);
        LogPublishDenied(_logger, Name(who, e.ClientId), Shorten(topic));
        return Task.CompletedTask;
    }

    public Task InterceptSubscriptionAsync(InterceptingSubscriptionEventArgs e)
    {
        var filter = e.TopicFilter.Topic ?? "";
        if (_owners.TryGetValue(e.ClientId, out var who) && _security.Allows(who, filter, AclAccess.Subscribe)) return Task.CompletedTask;
        e.ProcessSubscription = false;
        e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
        Interlocked.Increment(ref _deniedSubscriptions);
        LogSubscriptionDenied(_logger, Name(who, e.ClientId), Shorten(filter));
        return Task.CompletedTask;
    }

    /// <summary>Counts a TLS handshake the server gave up on (refused certificate, no certificate, not TLS at all).</summary>
    public void CountRefusedHandshake(Exception error)
    {
        Interlocked.Increment(ref _refused);
        var reason = Shorten(error.Message);
        LogHandshakeFailed(_logger, reason);
    }

    /// <summary>Strings a client chose (topics, client ids, subjects) are logged at most this long, control characters escaped.</summary>
    internal static string Shorten(string value) => DisplayText.Truncate(value, LoggedLength);

    private static string Name(FleetIdentity? who, string clientId) => who?.Username ?? $"unknown client '{Shorten(clientId)}'";

    private void Reject(ValidatingConnectionEventArgs e, MqttConnectReasonCode code, string reason)
    {
        e.ReasonCode = code;
        Refuse("MQTT", reason);
    }

    private void Refuse(string stage, string reason)
    {
        Interlocked.Increment(ref _refused);
        LogConnectionRefused(_logger, stage, reason);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Broker refused a connection ({Stage}): {Reason}")]
    private static partial void LogConnectionRefused(ILogger logger, string stage, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Broker TLS handshake failed: {Reason}")]
    private static partial void LogHandshakeFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Broker denied a publish by {Who} on '{Topic}' (not delivered)")]
    private static partial void LogPublishDenied(ILogger logger, string who, string topic);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Broker denied a subscription by {Who} to '{Filter}'")]
    private static partial void LogSubscriptionDenied(ILogger logger, string who, string filter);
}
