using System.Net;
using System.Security.Cryptography.X509Certificates;
using ContinualLearning.Fleet.Identity;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// The console over HTTPS from PEM files, with operator client certificates: a certificate from <c>console:clientCa</c>
/// may act (audited under its CN), one from another CA may not, and the certificate is no read credential either way.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class ConsoleTlsTests(EmbeddedBrokerFixture fixture) : BrokerTestBase(fixture), IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-console-tls-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task An_operator_certificate_of_the_client_ca_may_roll_back_and_one_of_another_ca_may_not()
    {
        var ct = TestContext.Current.CancellationToken;
        using var ca = FleetCertificateAuthority.Create(Fleet);
        using var otherCa = FleetCertificateAuthority.Create(Fleet);
        var server = ca.IssueToFiles(new FleetIdentity(FleetRole.Broker, "console"), _dir, "console", hostNames: ["127.0.0.1"]);
        await using var host = await ConsoleTestHost.StartAsync(Fixture.Broker.Port, Fleet, o => o with
        {
            Rollout = o.Rollout with { Canary = false },
            Console = o.Console with { TlsCertificate = server.CertificateFile, TlsKey = server.KeyFile, ClientCa = server.CaFile },
        });
        Assert.Equal("https", host.Service.ConsoleAddress!.Scheme);
        Assert.True(host.Service.Receive("d1", host.Kit.EncodeDelta("d1")).Accepted);
        Assert.True(host.Service.Receive("d2", host.Kit.EncodeDelta("d2")).Accepted);
        await host.Service.AggregateAsync(force: true, ct);

        using var stranger = otherCa.Issue(new FleetIdentity(FleetRole.Operator, "mallory"));
        using (var http = Client(host.Service.ConsoleAddress, ca.Certificate, stranger))
        {
            using var overview = await http.GetAsync(new Uri("/api/v1/overview", UriKind.Relative), ct);
            Assert.Equal(HttpStatusCode.OK, overview.StatusCode);
            using var refused = await http.PostAsync(new Uri("/api/v1/versions/1.0.0/rollback", UriKind.Relative), null, ct);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }
        using (var http = Client(host.Service.ConsoleAddress, ca.Certificate, certificate: null))
        {
            using var refused = await http.PostAsync(new Uri("/api/v1/versions/1.0.0/rollback", UriKind.Relative), null, ct);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }
        using var carol = ca.Issue(new FleetIdentity(FleetRole.Operator, "carol"));
        using (var http = Client(host.Service.ConsoleAddress, ca.Certificate, carol))
        {
            using var done = await http.PostAsync(new Uri("/api/v1/versions/1.0.0/rollback", UriKind.Relative), null, ct);
            Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        }
        Assert.Equal([("cert:operator:carol", "done"), ("anonymous", "unauthenticated"), ("anonymous", "forbidden")],
            host.Service.Registry.Audit.Recent(10).Select(a => (a.Operator, a.Outcome)));
    }

    /// <summary>An HTTPS client trusting only <paramref name="trusted"/> for the server, presenting <paramref name="certificate"/>.</summary>
    private static HttpClient Client(Uri address, X509Certificate2 trusted, X509Certificate2? certificate)
    {
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, server, _, _) =>
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(trusted);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return server is not null && chain.Build(server);
            },
        };
        if (certificate is not null)
        {
            handler.ClientCertificateOptions = ClientCertificateOption.Manual;
            handler.ClientCertificates.Add(certificate);
        }
        return new HttpClient(handler) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
    }
}
