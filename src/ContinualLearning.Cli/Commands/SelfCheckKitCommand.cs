using System.CommandLine;
using ContinualLearning.Bundle;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Onnx;
using ContinualLearning.Training;

namespace ContinualLearning.Cli.Commands;

/// <summary>
/// `cl selfcheck kit`: what `cl device run` needs to start without an aggregator — a fleet key pair and a small
/// SEA-style base bundle (3 features → 8 → 2 classes "DOWN"/"UP") — for the emulated end-to-end run.
/// </summary>
internal static class SelfCheckKitCommand
{
    public static Command Build()
    {
        var output = new Option<string>("--out") { Description = "Directory to write fleet.key, fleet.pub and bundle/ into.", Required = true };
        var inputs = new Option<int>("--inputs") { Description = "Features (f1…fN); 3 gives the SEA schema (values 0–10), other widths expect standardised values (mean 0, sd 1).", DefaultValueFactory = _ => 3 };
        var hidden = new Option<int>("--hidden") { Description = "Hidden layer size.", DefaultValueFactory = _ => 8 };
        var classes = new Option<int>("--classes") { Description = "Classes (2: DOWN/UP, else c0…cN-1).", DefaultValueFactory = _ => 2 };
        var backbone = new Option<int>("--backbone") { Description = "Embedding width of a frozen random ReLU backbone.onnx to include (0 = none: the head reads the features).", DefaultValueFactory = _ => 0 };
        var audio = new Option<bool>("--audio") { Description = "An audio bundle instead: model 'keywords', the speech pipeline (speech-models/ beside cl) and a fresh 192→64→10 head over the ten keywords (--inputs, --hidden, --classes, --backbone do not apply)." };
        var command = new Command("kit", "Write a fleet key pair and a base bundle (version 1.0.0; SEA-style by default) for a test device.") { output, inputs, hidden, classes, backbone, audio };
        command.SetAction(parse =>
        {
            var dir = Path.GetFullPath(parse.GetValue(output)!);
            Directory.CreateDirectory(dir);
            var n = parse.GetValue(inputs);
            var k = parse.GetValue(classes);
            var embedding = parse.GetValue(backbone);
            if (embedding < 0) throw new ArgumentException($"--backbone {embedding}: the embedding width must be 0 (no backbone) or positive.");
            using (var key = ReleaseKeys.Generate())
                ReleaseKeys.Save(key, Path.Combine(dir, "fleet.key"), Path.Combine(dir, "fleet.pub"));
            var manifest = new ModelManifest
            {
                Name = "sea",
                Version = "1.0.0",
                CreatedUtc = DateTime.UtcNow,
                // SEA features are uniform on 0–10 (mean 5, sd 2.9); other widths are expected standardised already.
                InputSchema = new InputSchema(Enumerable.Range(1, n).Select(i => n == 3 ? new FeatureSpec($"f{i}", 5f, 2.9f) : new FeatureSpec($"f{i}", 0f, 1f)).ToArray(), embedding > 0 ? embedding : null),
                Task = k == 2 ? TaskSpec.Classification("DOWN", "UP") : TaskSpec.Classification(Enumerable.Range(0, k).Select(c => $"c{c}").ToArray()),
                Head = new HeadSpec([embedding > 0 ? embedding : n, parse.GetValue(hidden), k], LossKind.SoftmaxCrossEntropy),
                Training = new TrainingDefaults { Options = new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1f, Momentum = 0.9f }, BatchSize = 16 },
            };
            var bundle = Path.Combine(dir, "bundle");
            if (parse.GetValue(audio))
            {
                SpeechBundleBuilder.Save(bundle, new SpeechBundleOptions { Name = "keywords", LabelNames = [.. new Experiments.Keywords.KeywordCorpusSpec().Words.Take(10)] }, overwrite: true);
                SelfCheckCommand.Report("fleet_public_key", Path.Combine(dir, "fleet.pub"));
                SelfCheckCommand.Report("bundle", bundle);
                return 0;
            }
            string? backbonePath = null;
            if (embedding > 0)
            {
                // A frozen random features→E→E ReLU layer pair, exported as ONNX (identity output): a real ONNX Runtime
                // backbone for the device to run, not a trained one.
                var backboneSpec = new HeadSpec([n, embedding, embedding], LossKind.MeanSquaredError);
                backbonePath = Path.Combine(dir, ModelManifest.BackboneFileName);
                OnnxExporter.ExportHead(backboneSpec, HeadInitializer.Initialize(backboneSpec, seed: 2), backbonePath);
            }
            ModelBundle.Save(bundle, manifest, HeadInitializer.Initialize(manifest.Head, seed: 1), backbonePath, overwrite: true);
            SelfCheckCommand.Report("fleet_public_key", Path.Combine(dir, "fleet.pub"));
            SelfCheckCommand.Report("bundle", bundle);
            return 0;
        });
        return command;
    }
}
