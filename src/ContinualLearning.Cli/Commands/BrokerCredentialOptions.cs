using System.CommandLine;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Identity;

namespace ContinualLearning.Cli.Commands;

/// <summary>What a command connects to the broker with: TLS (server validation, client certificate) and a username/password.</summary>
/// <param name="Tls">Null for plain TCP.</param>
/// <param name="Username">Broker username, or null.</param>
/// <param name="Password">Its password (from a file; never printed).</param>
internal sealed record BrokerCredentials(FleetTlsOptions? Tls, string? Username, string? Password)
{
    public override string ToString() => $"BrokerCredentials {{ Tls = {Tls is not null}, Username = {Username}, Password = {(Password is null ? "none" : "***")} }}";
}

/// <summary>
/// The TLS and credential flags every `cl` command that connects to the broker takes, each with an environment
/// variable used when the flag is absent (docs/protocol.md, "Connection settings"). Files are loaded by
/// <see cref="FleetTlsFiles"/>, as the device and the aggregator load theirs.
/// </summary>
internal sealed class BrokerCredentialOptions
{
    public const string EnvironmentPrefix = "CL_BROKER_";

    public Option<bool> Tls { get; } = new("--tls") { Description = $"Connect with TLS (implied by --tls-ca or --tls-cert; env {EnvironmentPrefix}TLS)." };

    public Option<string?> Ca { get; } = new("--tls-ca") { Description = $"PEM file of the CA that signs the broker certificate, e.g. the fleet's ca.crt (env {EnvironmentPrefix}TLS_CA)." };

    public Option<string?> Cert { get; } = new("--tls-cert") { Description = $"Client certificate (PEM) from `cl fleet cert` or `cl device provision` (env {EnvironmentPrefix}TLS_CERT)." };

    public Option<string?> Key { get; } = new("--tls-key") { Description = $"Private key of the client certificate, mode 0600 (env {EnvironmentPrefix}TLS_KEY)." };

    public Option<bool> AllowUntrusted { get; } = new("--tls-allow-untrusted") { Description = $"Testing only: accept any broker certificate (env {EnvironmentPrefix}TLS_ALLOW_UNTRUSTED)." };

    public Option<string?> Username { get; } = new("--username") { Description = $"Broker username for a password-file broker (env {EnvironmentPrefix}USERNAME)." };

    public Option<string?> PasswordFile { get; } = new("--password-file") { Description = $"File holding the broker password, mode 0600 (env {EnvironmentPrefix}PASSWORD_FILE)." };

    /// <summary>Adds the flags to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Tls, Ca, Cert, Key, AllowUntrusted, Username, PasswordFile })
            command.Options.Add(option);
    }

    /// <summary>The flags' values, each falling back to its environment variable, with the files loaded.</summary>
    public BrokerCredentials Read(ParseResult parse, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(parse);
        environment ??= Environment.GetEnvironmentVariable;
        string? Text(Option<string?> flag, string variable) => parse.GetValue(flag) ?? NonEmpty(environment(EnvironmentPrefix + variable));
        bool Flag(Option<bool> flag, string variable) => parse.GetValue(flag) || IsTrue(environment(EnvironmentPrefix + variable));
        var ca = Text(Ca, "TLS_CA");
        var cert = Text(Cert, "TLS_CERT");
        var key = Text(Key, "TLS_KEY");
        var allowUntrusted = Flag(AllowUntrusted, "TLS_ALLOW_UNTRUSTED");
        var tls = Flag(Tls, "TLS") || ca is not null || cert is not null || key is not null || allowUntrusted
            ? FleetTlsFiles.Load(ca, cert, key, allowUntrusted)
            : null;
        var username = Text(Username, "USERNAME");
        var passwordFile = Text(PasswordFile, "PASSWORD_FILE");
        if (passwordFile is not null && username is null)
            throw new CliException($"--password-file ({EnvironmentPrefix}PASSWORD_FILE) is set without --username ({EnvironmentPrefix}USERNAME); give the username too.");
        var password = passwordFile is null ? null : SecretFiles.Read(passwordFile, "broker password").TrimEnd('\r', '\n');
        return new BrokerCredentials(tls, username, password);
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static bool IsTrue(string? value) => NonEmpty(value)?.ToUpperInvariant() is "1" or "TRUE" or "YES" or "ON";
}
