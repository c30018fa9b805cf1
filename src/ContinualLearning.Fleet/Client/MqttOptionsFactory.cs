using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace ContinualLearning.Fleet.Client;

/// <summary>Turns our <see cref="FleetMqttClientOptions"/> into MQTTnet's connect options (MQTT 5, session, will, TLS).</summary>
internal static class MqttOptionsFactory
{
    public static MqttClientOptions Build(FleetMqttClientOptions o)
    {
        ArgumentException.ThrowIfNullOrEmpty(o.ClientId, nameof(o.ClientId));
        var b = new MqttClientOptionsBuilder()
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId(o.ClientId)
            .WithTcpServer(o.Host, o.Port)
            .WithCleanStart(o.CleanStart)
            .WithSessionExpiryInterval(o.SessionExpirySeconds)
            .WithKeepAlivePeriod(o.KeepAlive)
            .WithTimeout(o.ConnectTimeout);
        if (o.ReceiveMaximum > 0) b.WithReceiveMaximum(o.ReceiveMaximum);
        if (o.MaximumPacketSize > 0) b.WithMaximumPacketSize((uint)o.MaximumPacketSize);
        if (o.Username is not null) b.WithCredentials(o.Username, o.Password);
        if (o.Will is { } will)
        {
            b.WithWillTopic(will.Topic)
                .WithWillPayload(will.Payload)
                .WithWillRetain(will.Retain)
                .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .WithWillContentType("application/json");
        }
        if (o.Tls is { } tls)
        {
            b.WithTlsOptions(t =>
            {
                t.UseTls();
                t.WithTargetHost(tls.TargetHost ?? o.Host);
                if (tls.ClientCertificates is { } certs) t.WithClientCertificates(certs);
                if (tls.TrustedCertificateAuthorities is { } roots) t.WithTrustChain(roots);
                if (tls.AllowUntrustedCertificates)
                {
                    t.WithAllowUntrustedCertificates();
                    t.WithIgnoreCertificateChainErrors();
                    t.WithCertificateValidationHandler(_ => true);
                }
            });
        }
        else
        {
            b.WithTlsOptions(t => t.UseTls(false));
        }
        return b.Build();
    }
}
