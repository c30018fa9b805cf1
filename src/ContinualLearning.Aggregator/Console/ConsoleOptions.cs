using System.Net;

namespace ContinualLearning.Aggregator.Console;

/// <summary>The aggregator's fleet console: its JSON API and web page (docs/console.md, "Configuration").</summary>
public sealed record ConsoleOptions
{
    /// <summary>The address <c>cl demo --console</c> and <c>cl aggregator run --console</c> use when none is given.</summary>
    public const string DefaultListen = "127.0.0.1:8480";

    /// <summary>
    /// <c>address:port</c> to serve on (as <see cref="MetricsOptions.Listen"/>), or null (default) for no console.
    /// A non-loopback address needs <see cref="TlsCertificate"/> or <see cref="AllowPlainHttp"/>.
    /// </summary>
    public string? Listen { get; init; }

    /// <summary>Serve plain HTTP on a non-loopback address (a proxy in front terminates TLS); tokens then cross the network in clear.</summary>
    public bool AllowPlainHttp { get; init; }

    /// <summary>PEM certificate (chain) for HTTPS; with <see cref="TlsKey"/>.</summary>
    public string? TlsCertificate { get; init; }

    /// <summary>PEM private key of <see cref="TlsCertificate"/>.</summary>
    public string? TlsKey { get; init; }

    /// <summary>File of <c>name:sha256hex</c> lines, the SHA-256 of each operator's bearer token (<c>cl console token add</c>).</summary>
    public string? OperatorTokenFile { get; init; }

    /// <summary>PEM CA whose client certificates are operator credentials (HTTPS only); the certificate's CN is the operator's name.</summary>
    public string? ClientCa { get; init; }

    /// <summary>PEM PKCS#8 operator key that signs device commands sent from the console; without it they answer 409.</summary>
    public string? CommandKey { get; init; }

    /// <summary>How often a running canary's cohort accuracies are sampled into the registry (the rollout chart's points).</summary>
    public TimeSpan RolloutSampleInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Rollout points and audit rows older than this are deleted.</summary>
    public TimeSpan HistoryMaxAge { get; init; } = TimeSpan.FromDays(90);

    /// <summary>Most audit rows kept (the oldest go first).</summary>
    public int AuditMaxRows { get; init; } = 100_000;

    /// <summary>Events queued for one server-sent-events client; a client that falls this far behind is disconnected.</summary>
    public int EventQueueLength { get; init; } = 256;

    /// <summary>How often an idle event stream gets a comment line (keeps proxies from closing it); shorter in tests.</summary>
    internal TimeSpan Heartbeat { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Whether <paramref name="endpoint"/> is a loopback address (plain HTTP is fine there).</summary>
    internal static bool IsLoopback(IPEndPoint endpoint) => IPAddress.IsLoopback(endpoint.Address);
}
