namespace ContinualLearning.Fleet;

/// <summary>
/// The size caps every part of the fleet shares, so the device, the aggregator, the <c>cl</c> commands and the broker
/// configuration (Mosquitto <c>message_size_limit</c>) agree on what "too big" means. A cap on the MQTT packet
/// (<see cref="Client.FleetMqttClientOptions.MaximumPacketSize"/>, sent in CONNECT) makes the broker drop an oversized
/// message instead of pushing it into our memory; a cap on the payload is checked again by the receiver, before any
/// decoding, because not every broker honours the client's maximum.
/// </summary>
public static class FleetLimits
{
    /// <summary>Largest labelled-samples message a device accepts (1 MiB): hundreds of samples per message, not a memory attack.</summary>
    public const int MaxSamplesPayloadBytes = 1024 * 1024;

    /// <summary>
    /// What an MQTT PUBLISH adds around its payload: fixed header (≤ 5 bytes), topic (our topics are well under 1 KiB),
    /// packet id and the MQTT 5 properties we use (response topic, correlation data, content type). 4 KiB covers them
    /// with room to spare; a packet cap is payload cap + this.
    /// </summary>
    public const int PacketOverheadBytes = 4 * 1024;

    /// <summary>
    /// Largest header of a release chunk (<c>CLC1</c>): magic, format, model name and version (≤ 255 bytes each with
    /// their length bytes), index, count, length and the 32-byte SHA-256.
    /// </summary>
    public const int ChunkHeaderBytes = 4 + 1 + (1 + 255) + (1 + 255) + 12 + 32;

    /// <summary>Release chunk size the aggregator uses unless configured otherwise (64 KiB).</summary>
    public const int DefaultChunkBytes = 64 * 1024;

    /// <summary>
    /// Largest delta the aggregator accepts when no head is known to derive a cap from (16 MiB: a dense float32 head of
    /// 4 M parameters). With a head, <see cref="MaxDeltaPayloadBytes"/> gives a tighter cap.
    /// </summary>
    public const int DefaultMaxDeltaPayloadBytes = 16 * 1024 * 1024;

    /// <summary>Largest control message (command, reply, status, telemetry, release manifest) a client expects: the samples cap is ample.</summary>
    public const int MaxControlPayloadBytes = MaxSamplesPayloadBytes;

    /// <summary>Packet cap of a client that receives only control messages (the <c>cl</c> commands, monitors).</summary>
    public const int DefaultPacketBytes = MaxControlPayloadBytes + PacketOverheadBytes;

    /// <summary>Bytes on the wire of a release chunk of <paramref name="chunkSize"/> data bytes, MQTT packet included.</summary>
    public static int ReleaseChunkPacketBytes(int chunkSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chunkSize);
        return checked(chunkSize + ChunkHeaderBytes + PacketOverheadBytes);
    }

    /// <summary>
    /// Packet cap of a device: it receives labelled samples (≤ <see cref="MaxSamplesPayloadBytes"/>), release chunks of
    /// <paramref name="chunkSize"/> bytes, releases and commands; the largest of them plus the packet overhead.
    /// </summary>
    public static int DevicePacketBytes(int chunkSize = DefaultChunkBytes) =>
        Math.Max(MaxSamplesPayloadBytes + PacketOverheadBytes, ReleaseChunkPacketBytes(chunkSize));

    /// <summary>
    /// Upper bound on the CLD1 encoding of a delta of a head with <paramref name="parameters"/> values in
    /// <paramref name="tensors"/> tensors, whatever encoding and layout the device chose: at most 9 bytes per value
    /// (float32 plus a ≤ 5-byte index gap), ~320 bytes per tensor (name ≤ 256 bytes, rank ≤ 8 varint dimensions, scale,
    /// count) and 32 KiB for the header (three ≤ 256-byte strings, ≤ 64 metrics) and checksum. Anything bigger cannot be
    /// an honest delta of that head and is refused before decoding.
    /// </summary>
    public static int MaxDeltaPayloadBytes(long parameters, int tensors)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(parameters);
        ArgumentOutOfRangeException.ThrowIfNegative(tensors);
        var bound = (9 * parameters) + (320L * tensors) + (32 * 1024);
        return (int)Math.Min(bound, int.MaxValue - PacketOverheadBytes);
    }

    /// <summary>Packet cap of the aggregator: its delta cap plus the packet overhead (telemetry and status are far smaller).</summary>
    public static int AggregatorPacketBytes(int maxDeltaPayloadBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxDeltaPayloadBytes);
        return checked(Math.Max(maxDeltaPayloadBytes, MaxControlPayloadBytes) + PacketOverheadBytes);
    }
}
