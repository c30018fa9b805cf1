using System.Text.Json;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Holdout;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Audio;
using ContinualLearning.Bundle;
using ContinualLearning.Experiments.Keywords;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Onnx;
using ContinualLearning.Pipelines;
using ContinualLearning.Tensors;
using ContinualLearning.UnitTests.Pipelines;

namespace ContinualLearning.UnitTests.Aggregator.Holdout;

/// <summary>
/// The holdout gate on a real audio model: espeak-ng clips (the TestKit's small keyword corpus: yes, no, zero × two
/// accents × two voices, clean and noisy) embedded by <c>cl holdout embed</c> with the release's speech pipeline in
/// ONNX Runtime, then the real service (SQLite registry, embedded broker) gating candidates on those embeddings.
/// Without the speech models or espeak-ng the tests skip, or fail under CL_REQUIRE_SPEECH=1.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class AudioHoldoutGateTests(EmbeddedBrokerFixture fixture, ITestOutputHelper output) : BrokerTestBase(fixture), IDisposable
{
    private const string Model = "kw";
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-audio-holdout-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A release 1.0.0 of "yes"/"no" whose head was trained on the corpus's clean clips.</summary>
    private (KeywordCorpus Corpus, string Bundle) Release()
    {
        SpeechTestSupport.RequireModels();
        var corpus = KeywordCorpusFixture.Get();
        var dir = Path.Combine(_dir, "release");
        KeywordBaseModel.Create(corpus, ["en-us", "en-gb-scotland"], ["yes", "no"], dir, name: Model);
        return (corpus, dir);
    }

    private string Embed(string bundle, string clips)
    {
        var csv = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".csv");
        var (exit, _, error) = HoldoutEmbedCommandTests.Cl("embed", "--bundle", bundle, "--clips", clips, "--out", csv, "--skip-unknown");
        Assert.True(exit == 0, error);
        return csv;
    }

    [Fact]
    public void Embeds_labelled_clips_with_the_release_pipeline_exactly_as_a_device_computes_them()
    {
        var (corpus, bundleDir) = Release();
        var csv = Path.Combine(_dir, "holdout.csv");

        // The corpus also holds "zero", which the release lacks: refused unless left out on purpose.
        var refused = HoldoutEmbedCommandTests.Cl("embed", "--bundle", bundleDir, "--clips", corpus.Directory, "--out", csv);
        Assert.Equal(1, refused.Exit);
        Assert.Contains("Labels that are not classes of kw 1.0.0 (yes, no): 'zero' (8)", refused.Error, StringComparison.Ordinal);
        Assert.Contains("--skip-unknown", refused.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(csv));

        var (exit, output, error) = HoldoutEmbedCommandTests.Cl("embed", "--bundle", bundleDir, "--clips", corpus.Directory, "--out", csv, "--skip-unknown");

        Assert.True(exit == 0, error);
        Assert.Contains("Wrote 16 head inputs of kw 1.0.0 (no 8, yes 8)", output, StringComparison.Ordinal);
        Assert.Contains("Left out 8 inputs of labels the model lacks: 'zero' (8)", output, StringComparison.Ordinal);
        var bundle = ModelBundle.Load(bundleDir);
        var set = HoldoutSet.Load(new HoldoutOptions { CsvPath = csv }, bundle.Manifest);
        Assert.Equal(16, set.Samples.Count);
        // Row 1 is the first yes/no clip of the corpus list, embedded as /predict would: WavReader, then the bundle's pipeline.
        var first = corpus.Clips.First(c => c.Word != "zero");
        using var pipeline = InputPipelineFactory.Create(bundle);
        var expected = new float[pipeline.OutputSize];
        pipeline.Embed(WavReader.ReadPcm16Mono(File.ReadAllBytes(corpus.PathOf(first)), bundle.Manifest.InputSchema.Audio!), expected);
        Assert.Equal(expected, set.Samples[0].Features);
        Assert.Equal(bundle.Manifest.Task.LabelNames.ToList().IndexOf(first.Word), set.Samples[0].Label);

        // The same clips as folders named by label give the same 16 embeddings.
        var folders = HoldoutSet.Load(new HoldoutOptions { CsvPath = Embed(bundleDir, Path.Combine(corpus.Directory, "clips")) }, bundle.Manifest);
        Assert.Equal(
            set.Samples.Select(s => string.Join(',', s.Features) + ":" + s.Label).Order(StringComparer.Ordinal),
            folders.Samples.Select(s => string.Join(',', s.Features) + ":" + s.Label).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_good_candidate_passes_the_gate_and_a_broken_one_is_rejected_with_holdout_fail()
    {
        var (corpus, bundleDir) = Release();
        var csv = Embed(bundleDir, corpus.Directory);
        await using var service = await StartAsync(bundleDir, csv);

        // Good: two devices nudge every weight by 1e-4.
        var release = Bundle(service, "1.0.0");
        foreach (var device in new[] { "a", "b" })
            Assert.True(service.Receive(device, Delta(device, release, t => new float[t.Data.Length].Select(_ => 1e-4f).ToArray())).Accepted);
        var good = await service.AggregateAsync(force: true);

        Assert.Equal(VersionStatus.Released, good!.Status);
        var pass = Numbers(service, good.Version, DecisionKind.HoldoutPass);
        Assert.True(pass["current"] >= 0.75, $"the release scores {pass["current"]:P0} on the holdout embeddings");
        Assert.Equal(16, pass["samples"]);

        // Broken: both devices negate the output layer (w → −w), so the head answers the other word.
        var current = Bundle(service, good.Version);
        foreach (var device in new[] { "a", "b" })
            Assert.True(service.Receive(device, Delta(device, current, t => t.Name.StartsWith("2.", StringComparison.Ordinal) ? t.Data.Select(v => -2 * v).ToArray() : new float[t.Data.Length])).Accepted);
        var broken = await service.AggregateAsync(force: true);

        Assert.Equal(VersionStatus.Rejected, broken!.Status);
        var fail = Numbers(service, broken.Version, DecisionKind.HoldoutFail);
        Assert.True(fail["candidate"] < fail["current"] - 0.5, $"candidate {fail["candidate"]:P0} vs current {fail["current"]:P0}");
        Assert.Equal(good.Version, service.Registry.Latest(Model, VersionStatus.Released)!.Version);
        output.WriteLine($"holdout accuracy on {pass["samples"]} embeddings: release {pass["current"]:F4}, good candidate {pass["candidate"]:F4}, broken candidate {fail["candidate"]:F4}");
    }

    [Fact]
    public async Task The_aggregator_refuses_to_start_on_embeddings_of_another_pipeline_or_on_raw_features()
    {
        var (corpus, bundleDir) = Release();
        // Same width, another pipeline: a standardising stage after the pooling.
        var other = Path.Combine(_dir, "other");
        SpeechBundleBuilder.Save(other, new SpeechBundleOptions
        {
            Name = Model, LabelNames = ["yes", "no"],
            Standardize = new StandardizeStageSpec(new float[192], Enumerable.Repeat(2f, 192).ToArray()),
        });
        var foreign = Embed(other, corpus.Directory);

        var mismatch = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAndDisposeAsync(bundleDir, foreign));
        Assert.Contains($"was embedded by pipeline {HoldoutPipeline.Fingerprint(ModelBundle.Load(other).Manifest)}", mismatch.Message, StringComparison.Ordinal);
        Assert.Contains("re-embed the clips", mismatch.Message, StringComparison.Ordinal);

        var features = Path.Combine(_dir, "features.csv");
        File.WriteAllText(features, "loudness,class\n0.5,yes\n");
        var raw = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAndDisposeAsync(bundleDir, features));
        Assert.Contains("it is a CSV of raw features, but model kw 1.0.0 takes audio through 5 stages", raw.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_release_with_another_pipeline_published_while_running_stops_gating_and_keeps_the_deltas()
    {
        var (corpus, bundleDir) = Release();
        await using var service = await StartAsync(bundleDir, Embed(bundleDir, corpus.Directory));
        var other = Path.Combine(_dir, "other");
        SpeechBundleBuilder.Save(other, new SpeechBundleOptions
        {
            Name = Model, Version = "2.0.0", LabelNames = ["yes", "no"],
            Standardize = new StandardizeStageSpec(new float[192], Enumerable.Repeat(2f, 192).ToArray()),
        });
        RegistryModels.Import(service.Registry, other, VersionStatus.Released);
        var release = Bundle(service, "2.0.0");
        foreach (var device in new[] { "a", "b" })
            Assert.True(service.Receive(device, Delta(device, release, t => new float[t.Data.Length].Select(_ => 1e-4f).ToArray())).Accepted);
        var versions = service.Registry.ListVersions(Model).Count;
        var artifacts = Directory.GetFiles(Path.Combine(service.Registry.Directory, "artifacts"), "*", SearchOption.AllDirectories).Length;

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => service.AggregateAsync(force: true));

        Assert.Contains("Model kw 2.0.0 embeds with pipeline", e.Message, StringComparison.Ordinal);
        Assert.Contains("no candidate is gated until the holdout is re-made for this release", e.Message, StringComparison.Ordinal);
        Assert.Equal(2, service.Registry.Deltas.PendingCount(Model));
        Assert.Equal(versions, service.Registry.ListVersions(Model).Count);
        Assert.Equal(artifacts, Directory.GetFiles(Path.Combine(service.Registry.Directory, "artifacts"), "*", SearchOption.AllDirectories).Length);
    }

    private async Task StartAndDisposeAsync(string bundleDir, string csv)
    {
        await using var service = await StartAsync(bundleDir, csv);
    }

    private async Task<AggregatorService> StartAsync(string bundleDir, string csv)
    {
        var root = Path.Combine(_dir, "agg-" + Guid.NewGuid().ToString("N")[..8]);
        using (var registry = ModelRegistry.Open(Path.Combine(root, "registry")))
            RegistryModels.Import(registry, bundleDir, VersionStatus.Released);
        using (var key = ReleaseKeys.Generate())
            ReleaseKeys.Save(key, Path.Combine(root, "release.key"), Path.Combine(root, "release.pub"));
        var service = new AggregatorService(new AggregatorOptions
        {
            Fleet = Fleet,
            ModelName = Model,
            RegistryPath = Path.Combine(root, "registry"),
            PrivateKeyPath = Path.Combine(root, "release.key"),
            BrokerPort = Fixture.Broker.Port,
            InstanceId = "agg-" + Guid.NewGuid().ToString("N")[..8],
            Tick = TimeSpan.FromHours(1),
            Validation = new ValidationOptions { MaxNorm = null },
            Aggregation = new AggregationOptions { MaxWait = TimeSpan.FromHours(1) },
            Rollout = new RolloutOptions { Canary = false },
            Holdout = new HoldoutOptions { CsvPath = csv, Margin = 0.01 },
        });
        try
        {
            await service.StartAsync();
            return service;
        }
        catch
        {
            await service.DisposeAsync();
            throw;
        }
    }

    private static ModelBundle Bundle(AggregatorService service, string version) =>
        RegistryModels.Load(service.Registry, service.Registry.GetVersion(Model, version)!).Bundle;

    private static byte[] Delta(string device, ModelBundle release, Func<NamedTensor, float[]> change) =>
        AggregatorTestKit.Encode(device, Guid.NewGuid(), release.Manifest.Version, 50,
            release.HeadWeights.Select(t => new NamedTensor(t.Name, t.Shape, change(t))).ToArray(), Model);

    private static Dictionary<string, double> Numbers(AggregatorService service, string version, DecisionKind kind) =>
        JsonSerializer.Deserialize<Dictionary<string, double>>(service.Registry.Decisions.List(Model, version).Single(d => d.Decision == kind).NumbersJson)!;
}
