using System.Security.Cryptography.X509Certificates;
using ContinualLearning.Fleet.Identity;

namespace ContinualLearning.Fleet.Broker;

/// <summary>
/// Decides whether <paramref name="who"/> may <paramref name="access"/> <paramref name="topic"/> (a concrete topic for a
/// publish, a filter for a subscription). The fleet's is <c>FleetAcl.Allows</c>.
/// </summary>
public delegate bool BrokerAccessRule(FleetIdentity who, string topic, AclAccess access);

/// <summary>
/// What makes an <see cref="EmbeddedBroker"/> a fleet broker rather than an open one: a TLS listener with a server
/// certificate issued by the fleet CA, a client certificate required from every client and accepted only when it
/// chains to that CA (and no other root), the client's identity read from its certificate, and every publish and
/// subscription checked against <see cref="Allows"/>.
/// </summary>
/// <param name="ServerCertificate">The broker's certificate with its private key (the fleet CA issues it for 127.0.0.1).</param>
/// <param name="CertificateAuthority">The fleet CA certificate: the only root a client certificate may chain to.</param>
/// <param name="Allows">The access rule every publish and subscription is checked against.</param>
public sealed record EmbeddedBrokerSecurity(X509Certificate2 ServerCertificate, X509Certificate2 CertificateAuthority, BrokerAccessRule Allows);

/// <summary>What a secure <see cref="EmbeddedBroker"/> refused since it was created.</summary>
/// <param name="RefusedConnections">TLS handshakes or MQTT connections refused (no, foreign or unusable client certificate; client id of another identity).</param>
/// <param name="DeniedPublishes">Publishes (will messages included) the access rule denied; none was delivered.</param>
/// <param name="DeniedSubscriptions">Subscriptions the access rule denied (answered with "not authorized").</param>
public sealed record BrokerDenials(long RefusedConnections, long DeniedPublishes, long DeniedSubscriptions);
