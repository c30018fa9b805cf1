using System.Security.Cryptography;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Text;

namespace ContinualLearning.Fleet.Signing;

/// <summary>Why a device refused a command before running it.</summary>
public enum CommandRefusal
{
    /// <summary>The device trusts no operator key, so it runs no command.</summary>
    NoTrustedKeys,

    /// <summary>The command id is empty, too long, or holds separators or control characters.</summary>
    InvalidId,

    /// <summary>The command carries no signature.</summary>
    NotSigned,

    /// <summary>The command was signed with a key the device does not trust.</summary>
    UnknownKey,

    /// <summary>The signature does not match the command's contents.</summary>
    BadSignature,

    /// <summary>The command names another fleet or device than the one that received it.</summary>
    WrongTarget,

    /// <summary>The command has no issue or expiry time.</summary>
    MissingValidity,

    /// <summary>The command's expiry time has passed.</summary>
    Expired,

    /// <summary>The command was issued in the future (beyond the allowed clock skew).</summary>
    NotYetValid,

    /// <summary>The command's validity window is longer than the device allows.</summary>
    TooLongLived,
}

/// <summary>How long a command may live and how far the sender's clock may be off.</summary>
/// <param name="MaxLifetime">Longest <c>expiresAt − issuedAt</c> accepted.</param>
/// <param name="ClockSkew">Tolerance on both ends of the validity window for clocks that disagree.</param>
public sealed record CommandLimits(TimeSpan MaxLifetime, TimeSpan ClockSkew)
{
    /// <summary>Ten minutes of life, thirty seconds of skew.</summary>
    public static CommandLimits Default { get; } = new(TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(30));
}

/// <summary>Outcome of <see cref="CommandSigner.Verify"/>: null <see cref="Refusal"/> when the command may run.</summary>
public sealed record CommandVerification(CommandRefusal? Refusal, string Reason)
{
    /// <summary>Whether the command may run.</summary>
    public bool Ok => Refusal is null;
}

/// <summary>
/// Signs and verifies fleet <see cref="Command"/>s with an operator's ECDSA P-256 key (the same PEM files and key ids
/// as release keys, <see cref="ReleaseKeys"/>). Canonical bytes = UTF-8 JSON of the command with <c>signature</c>
/// removed (source-generated serializer, fixed property order, no whitespace), so the signature covers the target
/// fleet and device, the validity window and the key id.
/// </summary>
public static class CommandSigner
{
    /// <summary>The bytes the signature covers.</summary>
    public static byte[] CanonicalBytes(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        return FleetJson.Serialize(command with { Signature = null });
    }

    /// <summary>
    /// Returns a copy addressed to <paramref name="fleet"/>/<paramref name="deviceId"/>, issued at <paramref name="now"/>,
    /// expiring after <paramref name="lifetime"/>, with <c>keyId</c> and <c>signature</c> set.
    /// </summary>
    public static Command Sign(Command command, ECDsa operatorKey, string fleet, string deviceId, DateTimeOffset now, TimeSpan lifetime)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(operatorKey);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(lifetime, TimeSpan.Zero);
        var unsigned = command with
        {
            Fleet = fleet, DeviceId = deviceId, IssuedAt = now, ExpiresAt = now + lifetime,
            KeyId = ReleaseKeys.KeyId(operatorKey), Signature = null,
        };
        var signature = operatorKey.SignData(CanonicalBytes(unsigned), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return unsigned with { Signature = Convert.ToBase64String(signature) };
    }

    /// <summary>
    /// Checks signature, target and validity window. Never throws for bad input; the reason says what failed and what
    /// to do, and quotes attacker-controlled values only truncated.
    /// </summary>
    /// <param name="command">The command as received.</param>
    /// <param name="trusted">Operator public keys the device trusts, by <see cref="ReleaseKeys.KeyId"/>.</param>
    /// <param name="fleet">Fleet of the receiving device.</param>
    /// <param name="deviceId">Id of the receiving device.</param>
    /// <param name="now">The device's clock.</param>
    /// <param name="limits">Lifetime and skew allowed.</param>
    public static CommandVerification Verify(Command command, IReadOnlyDictionary<string, ECDsa> trusted, string fleet, string deviceId, DateTimeOffset now, CommandLimits limits)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(trusted);
        ArgumentNullException.ThrowIfNull(limits);
        if (trusted.Count == 0)
            return Refuse(CommandRefusal.NoTrustedKeys, "this device trusts no operator key, so it runs no command; list the operators' public keys in commands:operatorKeys (or --operator-key)");
        if (string.IsNullOrEmpty(command.Signature))
            return Refuse(CommandRefusal.NotSigned, "the command is unsigned; sign it with an operator key (`cl device cmd --operator-key <pem>`)");
        if (command.KeyId is null || !trusted.TryGetValue(command.KeyId, out var key))
            return Refuse(CommandRefusal.UnknownKey, $"the command was signed with key '{Short(command.KeyId)}', which this device does not trust; trusted: {string.Join(", ", trusted.Keys)}");
        byte[] signature;
        try
        {
            signature = Convert.FromBase64String(command.Signature);
        }
        catch (FormatException)
        {
            return Refuse(CommandRefusal.BadSignature, "the signature is not valid base64");
        }
        if (!key.VerifyData(CanonicalBytes(command), signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
            return Refuse(CommandRefusal.BadSignature, "the ECDSA signature does not match the command (tampered, or signed for something else)");
        if (command.Fleet != fleet || command.DeviceId != deviceId)
            return Refuse(CommandRefusal.WrongTarget, $"the command is for device '{Short(command.DeviceId)}' of fleet '{Short(command.Fleet)}', not for '{deviceId}' of '{fleet}'");
        if (command.IssuedAt == default || command.ExpiresAt is not { } expires)
            return Refuse(CommandRefusal.MissingValidity, "the command has no issuedAt or no expiresAt; both are required");
        if (expires - command.IssuedAt > limits.MaxLifetime || expires <= command.IssuedAt)
            return Refuse(CommandRefusal.TooLongLived, $"the command is valid from {command.IssuedAt:O} to {expires:O}; this device accepts at most {limits.MaxLifetime.TotalSeconds:0} s (commands:maxLifetimeSeconds)");
        if (command.IssuedAt > now + limits.ClockSkew)
            return Refuse(CommandRefusal.NotYetValid, $"the command was issued at {command.IssuedAt:O}, after this device's clock {now:O} plus {limits.ClockSkew.TotalSeconds:0} s of skew; check both clocks");
        if (expires < now - limits.ClockSkew)
            return Refuse(CommandRefusal.Expired, $"expired at {expires:O}; not executed");
        return new CommandVerification(null, "ok");
    }

    private static CommandVerification Refuse(CommandRefusal refusal, string reason) => new(refusal, reason);

    private static string Short(string? value) => DisplayText.Truncate(value, 40) ?? "(none)";
}
