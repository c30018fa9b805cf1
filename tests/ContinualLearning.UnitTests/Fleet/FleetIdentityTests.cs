using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ContinualLearning.Fleet.Identity;
using ContinualLearning.Fleet.Signing;

namespace ContinualLearning.UnitTests.Fleet;

public sealed class FleetIdentityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-identity-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Attack_keys_new_force_over_a_world_readable_file_leaves_the_new_private_key_owner_only()
    {
        if (OperatingSystem.IsWindows()) { Assert.Skip("Unix file modes"); return; }
        var priv = Path.Combine(_dir, "release.key");
        File.WriteAllText(priv, "old");
        File.SetUnixFileMode(priv, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        using var key = ReleaseKeys.Generate();
        ReleaseKeys.Save(key, priv, Path.Combine(_dir, "release.pub"));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(priv));
    }

    [Fact]
    public void Attack_a_world_readable_private_key_is_refused_on_load_with_the_chmod_to_run()
    {
        if (OperatingSystem.IsWindows()) { Assert.Skip("Unix file modes"); return; }
        var priv = Path.Combine(_dir, "release.key");
        using var key = ReleaseKeys.Generate();
        ReleaseKeys.Save(key, priv, Path.Combine(_dir, "release.pub"));
        File.SetUnixFileMode(priv, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

        var ex = Assert.Throws<CryptographicException>(() => ReleaseKeys.LoadPrivate(priv));
        Assert.Contains("0604", ex.Message);
        Assert.Contains($"chmod 600 {priv}", ex.Message);
        using var pub = ReleaseKeys.LoadPublic(Path.Combine(_dir, "release.pub")); // public keys may be world-readable
    }

    [Fact]
    public void Issued_certificates_chain_to_the_fleet_ca_and_carry_the_role_in_their_cn()
    {
        using var ca = FleetCertificateAuthority.Create("plant1");
        using var device = ca.Issue(new FleetIdentity(FleetRole.Device, "dev-01"));
        using var operatorCert = ca.Issue(new FleetIdentity(FleetRole.Operator, "alice"));
        using var broker = ca.Issue(new FleetIdentity(FleetRole.Broker, "mqtt"), hostNames: ["127.0.0.1", "broker.example"]);

        Assert.Equal("plant1", ca.Fleet);
        Assert.Equal(new FleetIdentity(FleetRole.Device, "dev-01"), FleetIdentity.FromCertificate(device));
        Assert.Equal(new FleetIdentity(FleetRole.Operator, "alice"), FleetIdentity.FromCertificate(operatorCert));
        Assert.Equal("operator:alice", operatorCert.GetNameInfo(X509NameType.SimpleName, false));
        Assert.True(device.HasPrivateKey);
        foreach (var cert in new[] { device, operatorCert, broker })
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca.Certificate);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            Assert.True(chain.Build(cert), string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation)));
        }
        using var other = FleetCertificateAuthority.Create("plant1");
        using var foreign = new X509Chain();
        foreign.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        foreign.ChainPolicy.CustomTrustStore.Add(other.Certificate);
        foreign.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.False(foreign.Build(device));
    }

    [Theory]
    [InlineData("operator:alice")]
    [InlineData("aggregator:main")]
    [InlineData("a/b")]
    [InlineData("#")]
    public void Attack_a_device_id_that_poses_as_another_role_or_topic_cannot_be_provisioned(string id)
    {
        using var ca = FleetCertificateAuthority.Create("plant1");
        Assert.Throws<ArgumentException>(() => ca.Issue(new FleetIdentity(FleetRole.Device, id)));
    }

    [Fact]
    public void Ca_and_credentials_round_trip_through_files_with_owner_only_keys()
    {
        using (var ca = FleetCertificateAuthority.Create("plant1"))
            ca.Save(Path.Combine(_dir, "ca"));
        Assert.Throws<IOException>(() => FleetCertificateAuthority.Create("plant1").Save(Path.Combine(_dir, "ca")));

        using var loaded = FleetCertificateAuthority.Load(Path.Combine(_dir, "ca"));
        var files = loaded.IssueToFiles(new FleetIdentity(FleetRole.Device, "dev-01"), Path.Combine(_dir, "dev-01"), "device");
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(files.KeyFile));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir, "ca", FleetCertificateAuthority.KeyFileName)));
        }
        using var cert = files.LoadCertificate();
        Assert.True(cert.HasPrivateKey);
        Assert.Equal("dev-01", FleetIdentity.FromCertificate(cert).Name);
        Assert.Equal(loaded.Certificate.Thumbprint, Assert.Single(files.LoadCa()).Thumbprint);
    }
}
