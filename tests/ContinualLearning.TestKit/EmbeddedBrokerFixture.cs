using System.Security.Cryptography.X509Certificates;
using ContinualLearning.Fleet.Broker;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Identity;

namespace ContinualLearning.TestKit;

/// <summary>
/// One in-process MQTT broker for every test in a collection (started once, like a server fixture). A test project
/// declares the collection (xunit finds collection definitions only in the test assembly itself).
/// </summary>
public sealed class EmbeddedBrokerFixture : IAsyncLifetime
{
    public EmbeddedBroker Broker { get; } = new();

    public async ValueTask InitializeAsync() => await Broker.StartAsync().ConfigureAwait(false);

    public async ValueTask DisposeAsync() => await Broker.StopAsync().ConfigureAwait(false);

    public FleetMqttClientOptions ClientOptions(string clientId) => new()
    {
        ClientId = clientId,
        Port = Broker.Port,
        ReconnectBaseDelay = TimeSpan.FromMilliseconds(50),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
    };
}

/// <summary>
/// Base for tests on the shared broker: each test gets unique ids, and fails if the broker logged an error while
/// it ran (MQTTnet's TestEnvironment does the same), so protocol errors cannot hide behind a passing assertion.
/// </summary>
public abstract class BrokerTestBase(EmbeddedBrokerFixture fixture) : IAsyncLifetime
{
    /// <summary>Long enough for a loaded 2-core CI box; only bounds a hang, never asserted as a speed.</summary>
    protected static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private readonly List<FleetMqttClient> _clients = [];

    protected EmbeddedBrokerFixture Fixture { get; } = fixture;

    /// <summary>A fleet name unique to this test, so retained messages of other tests never leak in.</summary>
    protected string Fleet { get; } = "t" + Guid.NewGuid().ToString("N")[..10];

    protected FleetMqttClient Client(string clientId, Func<FleetMqttClientOptions, FleetMqttClientOptions>? configure = null)
    {
        var options = Fixture.ClientOptions($"{Fleet}-{clientId}");
        var client = new FleetMqttClient(configure is null ? options : configure(options));
        _clients.Add(client);
        return client;
    }

    public ValueTask InitializeAsync()
    {
        Fixture.Broker.ClearErrors();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        foreach (var c in _clients) await c.DisposeAsync().ConfigureAwait(false);
        var errors = Fixture.Broker.Errors;
        Assert.True(errors.Count == 0, "The broker logged errors:\n" + string.Join("\n", errors));
    }
}

/// <summary>
/// An in-process fleet broker as <c>cl demo</c> runs it: TLS only, a client certificate from the fleet CA required,
/// the fleet ACL on every publish and subscription. <see cref="ClientOptions"/> issues a certificate for any identity,
/// so a test can play a device, the aggregator, an operator or an attacker holding a device's certificate.
/// </summary>
public sealed class SecureEmbeddedBrokerFixture : IAsyncLifetime, IDisposable
{
    public SecureEmbeddedBrokerFixture()
    {
        Authority = FleetCertificateAuthority.Create(Fleet);
        ServerCertificate = Authority.Issue(new FleetIdentity(FleetRole.Broker, "embedded"), hostNames: ["127.0.0.1", "localhost"]);
        Broker = new EmbeddedBroker(new EmbeddedBrokerSecurity(ServerCertificate, Authority.Certificate, new FleetAcl(Fleet).Allows));
    }

    /// <summary>The one fleet the broker's ACL is for; tests keep apart by device ids, not fleets.</summary>
    public string Fleet { get; } = "s" + Guid.NewGuid().ToString("N")[..10];

    public FleetCertificateAuthority Authority { get; }

    public X509Certificate2 ServerCertificate { get; }

    public EmbeddedBroker Broker { get; }

    public async ValueTask InitializeAsync() => await Broker.StartAsync().ConfigureAwait(false);

    public async ValueTask DisposeAsync() => await Broker.StopAsync().ConfigureAwait(false);

    public void Dispose()
    {
        ServerCertificate.Dispose();
        Authority.Dispose();
    }

    /// <summary>Options of a client holding a fresh certificate for <paramref name="identity"/> (null: no client certificate at all), trusting the fleet CA.</summary>
    public FleetMqttClientOptions ClientOptions(FleetIdentity? identity, string? clientId = null)
    {
        var tls = new FleetTlsOptions { TrustedCertificateAuthorities = [X509CertificateLoader.LoadCertificate(Authority.Certificate.RawData)] };
        if (identity is not null) tls = tls with { ClientCertificates = [Authority.Issue(identity)] };
        return new FleetMqttClientOptions
        {
            ClientId = clientId ?? (identity?.Role == FleetRole.Device ? identity.Name : $"{identity?.Name ?? "anonymous"}-{Guid.NewGuid():N}"[..24]),
            Port = Broker.Port,
            Tls = tls,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            ReconnectBaseDelay = TimeSpan.FromMilliseconds(50),
            ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
        };
    }
}
