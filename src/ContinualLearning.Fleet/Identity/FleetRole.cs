namespace ContinualLearning.Fleet.Identity;

/// <summary>What an identity may do in the fleet; written into its certificate (OU) by <see cref="FleetCertificateAuthority"/>.</summary>
public enum FleetRole
{
    /// <summary>A device: publishes only under its own <c>cl/{fleet}/device/{id}/…</c> topics, reads its commands and the releases.</summary>
    Device,
    /// <summary>An aggregator: reads deltas, status and telemetry; the only role that publishes releases.</summary>
    Aggregator,
    /// <summary>An operator (a person or tool using <c>cl</c>): sends commands and reads everything.</summary>
    Operator,
    /// <summary>The MQTT broker's server certificate.</summary>
    Broker,
}
