using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using ContinualLearning.Fleet.Client;

namespace ContinualLearning.Tests.Fleet;

/// <summary>
/// TLS, username/password and client-certificate authentication of <see cref="FleetMqttClient"/> against a real
/// Mosquitto. Certificates are a throwaway CA made per test with <see cref="CertificateRequest"/>; nothing touches
/// the system trust store.
/// </summary>
public sealed class MosquittoSecurityTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-tls-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [MosquittoFact]
    public async Task Tls_with_trusted_ca_connects_and_round_trips_a_message()
    {
        var pki = TestPki.Create(_dir);
        await using var broker = await MosquittoBroker.StartAsync(pki.TlsListenerConfig());

        await using var client = new FleetMqttClient(Options(broker, "tls-ok", new FleetTlsOptions { TrustedCertificateAuthorities = [pki.Ca] }));
        var received = await RoundTripAsync(client);

        Assert.Equal("hello over tls", received);
        Assert.Equal(1, client.ConnectCount);
    }

    [MosquittoFact]
    public async Task Tls_with_untrusted_ca_is_refused_with_a_certificate_error_unless_untrusted_is_allowed()
    {
        var pki = TestPki.Create(_dir);
        var otherCa = TestPki.Create(Directory.CreateDirectory(Path.Combine(_dir, "other")).FullName).Ca;
        await using var broker = await MosquittoBroker.StartAsync(pki.TlsListenerConfig());

        var failure = await FirstConnectFailureAsync(Options(broker, "tls-bad-ca", new FleetTlsOptions { TrustedCertificateAuthorities = [otherCa] }));
        Assert.Contains($"{broker.Host}:{broker.Port}", failure.Message, StringComparison.Ordinal);
        Assert.Contains("certificate", failure.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("tlsCaFile", failure.Message, StringComparison.Ordinal);

        // No CA given means the system store, which does not know a private fleet CA either.
        var systemStore = await FirstConnectFailureAsync(Options(broker, "tls-system-store", new FleetTlsOptions()));
        Assert.Contains("not trusted", systemStore.Message, StringComparison.Ordinal);

        // Testing only: AllowUntrustedCertificates skips server validation entirely (anyone can impersonate the broker).
        await using var lax = new FleetMqttClient(Options(broker, "tls-lax", new FleetTlsOptions { TrustedCertificateAuthorities = [otherCa], AllowUntrustedCertificates = true }));
        Assert.Equal("hello over tls", await RoundTripAsync(lax));
    }

    [MosquittoFact]
    public async Task Username_password_right_credentials_connect_wrong_ones_are_refused_with_reason()
    {
        var passwordFile = Path.Combine(_dir, "passwd");
        await RunAsync("mosquitto_passwd", "-b", "-c", passwordFile, "device-7", "s3cret");
        await using var broker = await MosquittoBroker.StartAsync($"password_file {passwordFile}", allowAnonymous: false);

        await using (var ok = new FleetMqttClient(Options(broker, "pw-ok") with { Username = "device-7", Password = "s3cret" }))
            Assert.Equal("hello over tls", await RoundTripAsync(ok));

        var failure = await FirstConnectFailureAsync(Options(broker, "pw-bad") with { Username = "device-7", Password = "wrong" });
        Assert.Contains($"{broker.Host}:{broker.Port}", failure.Message, StringComparison.Ordinal);
        Assert.Contains("pw-bad", failure.Message, StringComparison.Ordinal);
        // Mosquitto 2 answers a wrong password with NotAuthorized (0x87), not BadUserNameOrPassword.
        Assert.Contains("NotAuthorized", failure.Message, StringComparison.Ordinal);
        Assert.Contains("device-7", failure.Message, StringComparison.Ordinal);
        Assert.Contains("password", failure.Message, StringComparison.OrdinalIgnoreCase);

        var anonymous = await FirstConnectFailureAsync(Options(broker, "pw-none"));
        Assert.Contains($"{broker.Host}:{broker.Port}", anonymous.Message, StringComparison.Ordinal);
        Assert.Contains("NotAuthorized", anonymous.Message, StringComparison.Ordinal);
    }

    [MosquittoFact]
    public async Task Client_certificate_auth_connects_with_the_certificate_and_is_refused_without_it()
    {
        var pki = TestPki.Create(_dir);
        await using var broker = await MosquittoBroker.StartAsync(
            pki.TlsListenerConfig() + "\nrequire_certificate true\nuse_identity_as_username true", allowAnonymous: false);

        await using (var withCert = new FleetMqttClient(Options(broker, "mtls-ok", new FleetTlsOptions
        {
            TrustedCertificateAuthorities = [pki.Ca],
            ClientCertificates = [pki.Client],
        })))
        {
            Assert.Equal("hello over tls", await RoundTripAsync(withCert));
        }
        Assert.Contains("u'device-mtls'", broker.ReadLog(), StringComparison.Ordinal); // CN became the username

        var failure = await FirstConnectFailureAsync(Options(broker, "mtls-none", new FleetTlsOptions { TrustedCertificateAuthorities = [pki.Ca] }));
        Assert.Contains($"{broker.Host}:{broker.Port}", failure.Message, StringComparison.Ordinal);
        Assert.Contains("client certificate", failure.Message, StringComparison.OrdinalIgnoreCase);
    }

    [MosquittoFact]
    public async Task Stopped_broker_is_reported_as_unreachable_with_host_and_port()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await broker.StopAsync();

        var failure = await FirstConnectFailureAsync(Options(broker, "nobody-home"));

        Assert.Contains($"Cannot reach broker {broker.Host}:{broker.Port}", failure.Message, StringComparison.Ordinal);
        Assert.Contains("ConnectionRefused", failure.Message, StringComparison.Ordinal);
    }

    private static FleetMqttClientOptions Options(MosquittoBroker broker, string clientId, FleetTlsOptions? tls = null) => new()
    {
        ClientId = clientId,
        Host = broker.Host,
        Port = broker.Port,
        CleanStart = true,
        Tls = tls,
        ConnectTimeout = TimeSpan.FromSeconds(5),
        ReconnectBaseDelay = TimeSpan.FromMilliseconds(100),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
    };

    /// <summary>Subscribes, publishes to itself, and returns the payload that came back through the broker.</summary>
    private static async Task<string> RoundTripAsync(FleetMqttClient client)
    {
        var got = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.MessageReceived += m =>
        {
            got.TrySetResult(Encoding.UTF8.GetString(m.Payload));
            return Task.CompletedTask;
        };
        Exception? lastFailure = null;
        client.ConnectFailed += (ex, _) => lastFailure = ex;
        using var cts = new CancellationTokenSource(Patience);
        try
        {
            await client.StartAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"Client '{client.ClientId}' did not connect: {lastFailure}");
        }
        var topic = $"test/{client.ClientId}";
        await client.SubscribeAsync(topic, cancellationToken: cts.Token);
        await client.PublishAsync(topic, Encoding.UTF8.GetBytes("hello over tls"), cancellationToken: cts.Token);
        return await got.Task.WaitAsync(cts.Token);
    }

    /// <summary>Starts a client that must not get in and returns the error its first connect attempt reported.</summary>
    internal static async Task<Exception> FirstConnectFailureAsync(FleetMqttClientOptions options)
    {
        await using var client = new FleetMqttClient(options);
        var failed = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.ConnectFailed += (ex, _) => failed.TrySetResult(ex);
        using var cts = new CancellationTokenSource(Patience);
        var start = client.StartAsync(cts.Token);
        var first = await Task.WhenAny(start, failed.Task);
        Assert.True(first == failed.Task, $"Client '{options.ClientId}' connected although it should have been refused.");
        Assert.False(client.IsConnected);
        await client.StopAsync();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => start);
        return await failed.Task;
    }

    private static async Task RunAsync(string exe, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(exe, args) { RedirectStandardError = true, RedirectStandardOutput = true })
            ?? throw new InvalidOperationException($"Could not start {exe}.");
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"{exe} {string.Join(' ', args)} failed: {await p.StandardError.ReadToEndAsync()}");
    }

    /// <summary>A throwaway CA with a broker certificate (127.0.0.1 / localhost) and a client certificate, as PEM files.</summary>
    private sealed record TestPki(X509Certificate2 Ca, X509Certificate2 Client, string CaFile, string CertFile, string KeyFile)
    {
        public string TlsListenerConfig() => $"cafile {CaFile}\ncertfile {CertFile}\nkeyfile {KeyFile}";

        public static TestPki Create(string dir)
        {
            var now = DateTimeOffset.UtcNow.AddMinutes(-5);
            using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var caReq = new CertificateRequest("CN=ContinualLearning Test CA", caKey, HashAlgorithmName.SHA256);
            caReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            caReq.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            caReq.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caReq.PublicKey, false));
            var ca = caReq.CreateSelfSigned(now, now.AddDays(1));

            using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            san.AddDnsName("localhost");
            var server = Leaf(ca, "CN=localhost", serverKey, "1.3.6.1.5.5.7.3.1", san.Build(), now, 1); // serverAuth

            using var clientKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var client = Leaf(ca, "CN=device-mtls", clientKey, "1.3.6.1.5.5.7.3.2", null, now, 2).CopyWithPrivateKey(clientKey); // clientAuth

            var caFile = Path.Combine(dir, "ca.pem");
            var certFile = Path.Combine(dir, "server.pem");
            var keyFile = Path.Combine(dir, "server.key");
            File.WriteAllText(caFile, ca.ExportCertificatePem());
            File.WriteAllText(certFile, server.ExportCertificatePem());
            File.WriteAllText(keyFile, serverKey.ExportPkcs8PrivateKeyPem());
            // The CA's private key goes out of scope here: a public-only copy is all clients need.
            return new TestPki(X509CertificateLoader.LoadCertificate(ca.RawData), client, caFile, certFile, keyFile);
        }

        private static X509Certificate2 Leaf(X509Certificate2 ca, string subject, ECDsa key, string eku, X509Extension? san, DateTimeOffset now, byte serial)
        {
            var req = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
            req.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
            req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(eku)], false));
            if (san is not null) req.CertificateExtensions.Add(san);
            return req.Create(ca, now, now.AddDays(1), [serial]);
        }
    }
}
