using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace ContinualLearning.Aggregator.Console;

/// <summary>What a request's credential amounts to.</summary>
internal enum CredentialOutcome
{
    /// <summary>No bearer token and no client certificate: 401.</summary>
    Missing,

    /// <summary>A token or certificate that is not an operator's: 403.</summary>
    Wrong,

    /// <summary>An operator's: the action may run.</summary>
    Valid,
}

/// <summary>The outcome and, when valid, the operator's name (the token file's name, or the certificate's CN).</summary>
internal readonly record struct Credential(CredentialOutcome Outcome, string Operator, string Why);

/// <summary>
/// Checks operator credentials for the console's actions: a bearer token whose SHA-256 is a line <c>name:sha256hex</c>
/// of <c>console:operatorTokenFile</c> (the file holds no token; it is re-read when it changes, so a token added or
/// removed counts without a restart), or a client certificate chaining to <c>console:clientCa</c>. Tokens are compared
/// as hashes in constant time against every line, so the time taken says nothing about how close a guess was.
/// </summary>
internal sealed class OperatorAuth
{
    public const int MaxTokenLength = 512;

    private readonly string? _tokenFile;
    private readonly X509Certificate2Collection? _clientCa;
    private readonly Lock _lock = new();
    private (DateTime Written, long Length, (string Name, byte[] Hash)[] Entries) _tokens = (default, -1, []);

    public OperatorAuth(ConsoleOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _tokenFile = options.OperatorTokenFile;
        if (options.ClientCa is { } ca)
        {
            _clientCa = [];
            _clientCa.ImportFromPemFile(ca);
        }
        if (_tokenFile is not null) Tokens(); // a malformed file fails the start, not the first action
    }

    /// <summary>Whether client certificates are operator credentials (HTTPS asks for one).</summary>
    public bool AcceptsCertificates => _clientCa is not null;

    public async Task<Credential> CheckAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var header = context.Request.Headers.Authorization.ToString();
        if (header.Length > 0)
        {
            if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
                return new(CredentialOutcome.Wrong, "anonymous", "the Authorization header is not 'Bearer <token>'");
            return CheckToken(header["Bearer ".Length..].Trim());
        }
        if (_clientCa is not null && await context.Connection.GetClientCertificateAsync(context.RequestAborted).ConfigureAwait(false) is { } certificate)
            return CheckCertificate(certificate);
        return new(CredentialOutcome.Missing, "anonymous", "no credential: send 'Authorization: Bearer <operator token>'" + (_clientCa is null ? "" : " or an operator client certificate"));
    }

    /// <summary>The SHA-256 of a token as the token file writes it (lower-case hex).</summary>
    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>A new random token (256 bits, URL-safe base64).</summary>
    public static string NewToken() => Base64Url(RandomNumberGenerator.GetBytes(32));

    private Credential CheckToken(string token)
    {
        if (_tokenFile is null) return new(CredentialOutcome.Wrong, "anonymous", "no operator tokens are configured (console:operatorTokenFile)");
        if (token.Length is 0 or > MaxTokenLength) return new(CredentialOutcome.Wrong, "anonymous", "the token is not an operator's");
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(token));
        string? match = null;
        // Every entry is compared, whatever matched earlier: the time does not depend on which line (if any) matches.
        foreach (var (name, expected) in Tokens())
        {
            if (CryptographicOperations.FixedTimeEquals(hash, expected)) match ??= name;
        }
        return match is null ? new(CredentialOutcome.Wrong, "anonymous", "the token is not an operator's") : new(CredentialOutcome.Valid, match, "token");
    }

    private Credential CheckCertificate(X509Certificate2 certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_clientCa!);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2")); // client authentication
        var name = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        if (!chain.Build(certificate) || string.IsNullOrWhiteSpace(name))
            return new(CredentialOutcome.Wrong, "anonymous", "the client certificate is not signed by console:clientCa for client authentication");
        return new(CredentialOutcome.Valid, "cert:" + ContinualLearning.Text.DisplayText.Truncate(name, 64), "client certificate");
    }

    private (string Name, byte[] Hash)[] Tokens()
    {
        var info = new FileInfo(_tokenFile!);
        lock (_lock)
        {
            if (!info.Exists) return _tokens.Entries = [];
            if (info.LastWriteTimeUtc == _tokens.Written && info.Length == _tokens.Length) return _tokens.Entries;
            _tokens = (info.LastWriteTimeUtc, info.Length, Parse(_tokenFile!, File.ReadAllLines(_tokenFile!)));
            return _tokens.Entries;
        }
    }

    /// <summary>Lines <c>name:sha256hex</c>; blank lines and <c>#</c> comments skipped; anything else fails with the line number.</summary>
    internal static (string Name, byte[] Hash)[] Parse(string path, IReadOnlyList<string> lines)
    {
        var entries = new List<(string, byte[])>();
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var colon = line.LastIndexOf(':');
            var name = colon > 0 ? line[..colon] : "";
            var hex = colon > 0 ? line[(colon + 1)..] : "";
            if (name.Length == 0 || hex.Length != 64 || !hex.All(Uri.IsHexDigit))
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                    $"console:operatorTokenFile '{path}' line {i + 1} is not 'name:sha256hex' (64 hex digits of the token's SHA-256); write lines with `cl console token add <name> --file {path}`."));
            entries.Add((name, Convert.FromHexString(hex)));
        }
        return [.. entries];
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
