using ContinualLearning.Fleet.Configuration;

namespace ContinualLearning.Aggregator.Console;

/// <summary>The rules of the <c>console:*</c> block, run by <see cref="Configuration.AggregatorOptionsValidator"/>.</summary>
internal static class ConsoleOptionsValidator
{
    public static void Check(ConsoleOptions c, ICollection<ConfigurationError> errors)
    {
        CheckFile(errors, "console:operatorTokenFile", c.OperatorTokenFile, "create it with `cl console token add <name> --file <path>`, or remove the key");
        CheckFile(errors, "console:clientCa", c.ClientCa, "point it at the PEM CA that signs operator client certificates, or remove the key");
        CheckFile(errors, "console:commandKey", c.CommandKey, "point it at an operator private key made by `cl keys new`, or remove the key (device commands then answer 409)");
        CheckFile(errors, "console:tls:certificate", c.TlsCertificate, "point it at the console's PEM certificate, or remove console:tls");
        CheckFile(errors, "console:tls:key", c.TlsKey, "point it at the PEM private key of console:tls:certificate");
        if ((c.TlsCertificate is null) != (c.TlsKey is null))
            errors.Add(new("console:tls", c.TlsCertificate is null ? "key only" : "certificate only", "needs both certificate and key", "set console:tls:certificate and console:tls:key together"));
        if (c.ClientCa is not null && c.TlsCertificate is null)
            errors.Add(new("console:clientCa", c.ClientCa, "needs HTTPS (client certificates travel in the TLS handshake)", "set console:tls:certificate and console:tls:key, or use console:operatorTokenFile"));
        ConfigurationRules.Positive(errors, "console:rolloutSampleInterval", c.RolloutSampleInterval, c.RolloutSampleInterval.ToString("c", null));
        ConfigurationRules.Positive(errors, "console:historyMaxAge", c.HistoryMaxAge, c.HistoryMaxAge.ToString("c", null));
        ConfigurationRules.Require(errors, c.AuditMaxRows >= 1, "console:auditMaxRows", c.AuditMaxRows, "must be ≥ 1", "use e.g. 100000");
        ConfigurationRules.Require(errors, c.EventQueueLength is >= 1 and <= 100_000, "console:eventQueueLength", c.EventQueueLength, "must be between 1 and 100000", "use e.g. 256");
        if (c.Listen is not { } listen) return;
        if (!MetricsOptions.TryParseListen(listen, out var endpoint))
            errors.Add(new("console:listen", listen, "is not address:port", $"use e.g. {ConsoleOptions.DefaultListen}, or leave it unset to serve no console"));
        else if (!ConsoleOptions.IsLoopback(endpoint) && c.TlsCertificate is null && !c.AllowPlainHttp)
            errors.Add(new("console:listen", listen, "is not a loopback address and no TLS is configured: operator tokens would cross the network in clear",
                "set console:tls:certificate and console:tls:key, or console:allowPlainHttp=true when a TLS proxy sits in front, or listen on 127.0.0.1"));
    }

    private static void CheckFile(ICollection<ConfigurationError> errors, string key, string? path, string fix)
    {
        if (path is not null && !File.Exists(path)) errors.Add(new(key, path, "does not exist", fix));
    }
}
