using ContinualLearning.Deltas;
using ContinualLearning.Device.Agent;

namespace ContinualLearning.Cli.Demo;

/// <summary>
/// The attacker of <c>cl demo --poison</c>: a modified device client that points every delta the other way and
/// amplifies it <see cref="Factor"/>×, at the same wire size, before it reaches the broker. Everything else about
/// the device (learning, outbox, releases, telemetry) is the real daemon code.
/// </summary>
internal sealed class PoisonedDeltaTransport(IDeltaTransport inner) : IDeltaTransport
{
    /// <summary>How much the flipped delta is amplified.</summary>
    public const float Factor = 5;

    public Task<byte[]> PublishAsync(byte[] payload, CancellationToken cancellationToken) =>
        inner.PublishAsync(Poison(payload), cancellationToken);

    /// <summary>Decodes a CLD1 delta, negates and amplifies its values (and its quantisation scale, so int8 stays int8), re-encodes it.</summary>
    public static byte[] Poison(byte[] payload)
    {
        var delta = DeltaCodec.Decode(payload);
        return DeltaCodec.Encode(new WeightDelta(delta.Header, delta.Tensors.Select(SignFlip).ToArray()));
    }

    private static TensorDelta SignFlip(TensorDelta t) =>
        new(t.Name, t.Shape, t.Encoding, t.Scale * Factor, t.Indices, t.Values.Select(v => -Factor * v).ToArray());
}
