using ContinualLearning.Device.Serving;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;

namespace ContinualLearning.Fuzz;

/// <summary>The JSON that crosses MQTT (fleet messages) and the device's sample topic / local HTTP API.</summary>
internal static class MessageTargets
{
    private delegate T Reader<out T>(ReadOnlySpan<byte> json);

    private static readonly System.Security.Cryptography.ECDsa Key = ReleaseKeys.Generate();

    /// <summary>The same bytes through every fleet message reader (status, telemetry, command, reply, release, cluster directory).</summary>
    public static void FleetJsonMessages(byte[] input)
    {
        if (Read(input, FleetJson.ReadStatus) is { } status)
        {
            _ = status.DeviceId.Length;
            RoundTrip(FleetJson.Serialize(status), FleetJson.ReadStatus);
        }
        if (Read(input, FleetJson.ReadTelemetry) is { } telemetry)
        {
            _ = telemetry.DeviceId.Length;
            RoundTrip(FleetJson.Serialize(telemetry), FleetJson.ReadTelemetry);
        }
        if (Read(input, FleetJson.ReadCommand) is { } command)
        {
            _ = command.CommandId.Length;
            // Dictionary values are not dereferenced: nullable annotations do not reach generic arguments, so
            // {"args":{"a":null}} still parses with a null value (docs/fuzzing.md, "Open").
            foreach (var key in (command.Args ?? new Dictionary<string, string>()).Keys) _ = key.Length;
            RoundTrip(FleetJson.Serialize(command), FleetJson.ReadCommand);
        }
        if (Read(input, FleetJson.ReadCommandReply) is { } reply)
        {
            _ = reply.CommandId.Length + reply.DeviceId.Length;
            foreach (var key in (reply.Data ?? new Dictionary<string, string>()).Keys) _ = key.Length;
            RoundTrip(FleetJson.Serialize(reply), FleetJson.ReadCommandReply);
        }
        if (Read(input, FleetJson.ReadRelease) is { } release)
        {
            _ = release.ModelName.Length + release.Version.Length + release.Cohort.Length + release.BundleSha256.Length;
            RoundTrip(FleetJson.Serialize(release), FleetJson.ReadRelease);
            OpenRelease(release);
        }
        if (Read(input, FleetJson.ReadClusterDirectory) is { } directory)
        {
            _ = directory.ModelName.Length + directory.Clusters.Count + directory.Assignments.Count;
            RoundTrip(FleetJson.Serialize(directory), FleetJson.ReadClusterDirectory);
            CheckDirectory(directory);
        }
    }

    // Whatever arrives, the structure check answers without throwing; a directory that passes it, signed by the
    // trusted key, verifies (devices verify every directory they receive before they follow it).
    private static void CheckDirectory(ClusterDirectory directory)
    {
        if (!ClusterDirectorySigner.CheckStructure(directory).Ok) return;
        var verdict = ClusterDirectorySigner.Verify(ClusterDirectorySigner.Sign(directory, Key), Key);
        if (!verdict.Ok) throw new InvalidOperationException($"Fuzz invariant: a structurally valid cluster directory signed by the trusted key does not verify: {verdict.Reason}");
    }

    /// <summary>A sample / label / predict request body.</summary>
    public static void Sample(byte[] input)
    {
        SampleRequest request;
        try
        {
            request = SampleRequest.Parse(input);
        }
        catch (SampleRequestException)
        {
            return;
        }
        _ = (request.Features?.Length ?? 0) + (request.NamedFeatures?.Count ?? 0) + (request.Label?.Length ?? 0);
        _ = request.HasLabel && request.HasFeatures;
    }

    // A release whose fields pass the structure check, signed by the trusted key (as if the aggregator had made
    // it), must verify and open an assembler: the structure check is what stands between its numbers and the
    // assembler's arithmetic.
    private static void OpenRelease(Release release)
    {
        if (!ReleaseSigner.CheckStructure(release).Ok) return;
        var signed = ReleaseSigner.Sign(release, Key);
        var verdict = ReleaseSigner.Verify(signed, Key);
        if (!verdict.Ok) throw new InvalidOperationException($"Fuzz invariant: a structurally valid release signed by the trusted key does not verify: {verdict.Reason}");
        var assembler = new BundleAssembler(signed, Key, Scratch.Fresh("release"));
        _ = assembler.MissingChunks.Count;
    }

    private static T? Read<T>(byte[] input, Reader<T> read)
        where T : class
    {
        try
        {
            return read(input);
        }
        catch (FleetMessageException)
        {
            return null;
        }
    }

    // What a component serialises it must read back (the aggregator republishes retained releases, the CLI echoes replies).
    private static void RoundTrip<T>(byte[] json, Reader<T> read) => _ = read(json);
}
