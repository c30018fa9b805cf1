using System.Security.Cryptography.X509Certificates;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.Fleet.Identity;

/// <summary>
/// Who a certificate says its holder is. The certificate's CN is the MQTT username the broker derives from it
/// (Mosquitto <c>use_identity_as_username</c>): a device's CN is its bare device id, every other role's CN is
/// <c>{role}:{name}</c>. Device ids may not contain ':', so no device can be issued a name that the broker ACL
/// gives to an aggregator or an operator.
/// </summary>
public sealed record FleetIdentity(FleetRole Role, string Name)
{
    /// <summary>The CN and hence the broker username of this identity.</summary>
    public string Username => Role == FleetRole.Device ? Name : $"{RoleText(Role)}:{Name}";

    /// <summary>Checks a name for a role: a valid topic level, and no ':' (which would let it pose as another role).</summary>
    public static void Validate(FleetRole role, string name)
    {
        FleetTopics.Id(name, role == FleetRole.Device ? "device id" : $"{RoleText(role)} name");
        if (name.Contains(':', StringComparison.Ordinal))
            throw new ArgumentException($"The {RoleText(role)} name '{name}' contains ':', which the fleet reserves to separate a role from a name; choose a name without ':'.", nameof(name));
    }

    /// <summary>The identity a certificate issued by <see cref="FleetCertificateAuthority"/> carries.</summary>
    public static FleetIdentity FromCertificate(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var cn = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        var colon = cn.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0) return new FleetIdentity(FleetRole.Device, cn);
        return Enum.TryParse<FleetRole>(cn[..colon], ignoreCase: true, out var role) && role != FleetRole.Device
            ? new FleetIdentity(role, cn[(colon + 1)..])
            : throw new ArgumentException($"The certificate CN '{cn}' does not name a fleet role (device id, aggregator:NAME, operator:NAME or broker:NAME).", nameof(certificate));
    }

    /// <summary>The lower-case role word used in CNs and OUs.</summary>
    public static string RoleText(FleetRole role) => role.ToString().ToLowerInvariant();
}
