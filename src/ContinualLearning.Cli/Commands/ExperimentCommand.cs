using System.CommandLine;
using System.Globalization;
using ContinualLearning.Evaluation;
using ContinualLearning.Experiments;
using ContinualLearning.Replay;
using ContinualLearning.Torch;
using ContinualLearning.Training;
using Spectre.Console;

namespace ContinualLearning.Cli.Commands;

/// <summary>A bad option value: the message names the option, the value and what is allowed.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>Everything `cl experiment` needs, validated.</summary>
internal sealed record ExperimentPlan(
    ExperimentStream Stream,
    IReadOnlyList<StrategyKind> Strategies,
    string EngineName,
    StrategyOptions Options,
    RunnerOptions Runner,
    string OutputDirectory);

/// <summary>
/// `cl experiment`: runs continual-learning strategies side by side on a drifting stream (prequential
/// test-then-train) next to naive baselines, and writes results.md, accuracy.csv and accuracy.svg.
/// </summary>
internal static class ExperimentCommand
{
    private const string Streams = "sea, sea-shift, hyperplane, elec2, csv:<path>, keywords";

    private static readonly Option<string> s_stream = new("--stream") { Description = $"Stream: {Streams}.", DefaultValueFactory = _ => "sea" };
    private static readonly Option<string> s_drift = new("--drift") { Description = "Drift of synthetic streams: abrupt or gradual.", DefaultValueFactory = _ => "abrupt" };
    private static readonly Option<long?> s_samples = new("--samples") { Description = "Samples to run (synthetic default 40000; files: all rows)." };
    private static readonly Option<int> s_seed = new("--seed") { Description = "Seed of stream and models.", DefaultValueFactory = _ => 1 };
    private static readonly Option<string> s_strategy = new("--strategy") { Description = "all, or a comma list of: none, stateless, stateful, replay, ewc.", DefaultValueFactory = _ => "all" };
    private static readonly Option<string> s_engine = new("--engine") { Description = "Training engine: managed or torch.", DefaultValueFactory = _ => "managed" };
    private static readonly Option<string> s_out = new("--out") { Description = "Output directory for results.md, accuracy.csv, accuracy.svg.", DefaultValueFactory = _ => "experiment-results" };
    private static readonly Option<string?> s_dataDir = new("--data-dir") { Description = "Folder holding elec2.csv (default: $CL_DATA_DIR, then ./data)." };
    private static readonly Option<bool?> s_previousLabel = new("--previous-label") { Description = "Append the previous sample's label as a feature (known before the next prediction). Default: on for elec2, off otherwise." };
    private static readonly Option<bool> s_previousFeatures = new("--previous-features") { Description = "Append the previous sample's features (csv/elec2 streams; observed before the next prediction)." };
    private static readonly Option<int> s_updateEvery = new("--update-every") { Description = "U: samples between updates.", DefaultValueFactory = _ => 100 };
    private static readonly Option<int> s_window = new("--window") { Description = "W: samples the stateless strategy retrains on.", DefaultValueFactory = _ => 2000 };
    private static readonly Option<int> s_epochs = new("--epochs") { Description = "E: epochs of a from-scratch training (stateless, no-update).", DefaultValueFactory = _ => 20 };
    private static readonly Option<int> s_warmUp = new("--warm-up") { Description = "N: samples the no-update model trains on.", DefaultValueFactory = _ => 1000 };
    private static readonly Option<int> s_fineTuneEpochs = new("--fine-tune-epochs") { Description = "Passes per update of the stateful strategies.", DefaultValueFactory = _ => 1 };
    private static readonly Option<int> s_batch = new("--batch") { Description = "Micro-batch size.", DefaultValueFactory = _ => 32 };
    private static readonly Option<float> s_lr = new("--lr") { Description = "Adam learning rate.", DefaultValueFactory = _ => 0.01f };
    private static readonly Option<string> s_hidden = new("--hidden") { Description = "Hidden layer sizes, comma list (e.g. 32 or 64,32).", DefaultValueFactory = _ => "32" };
    private static readonly Option<int> s_replayCapacity = new("--replay-capacity") { Description = "Replay buffer size.", DefaultValueFactory = _ => 1000 };
    private static readonly Option<double> s_replayRatio = new("--replay-ratio") { Description = "Fraction of each micro-batch drawn from replay, in [0, 1).", DefaultValueFactory = _ => 0.5 };
    private static readonly Option<string> s_replayPolicy = new("--replay-policy") { Description = "Replay admission: reservoir or class-balanced.", DefaultValueFactory = _ => "reservoir" };
    private static readonly Option<float> s_ewcLambda = new("--ewc-lambda") { Description = "λ of the EWC penalty.", DefaultValueFactory = _ => 100f };
    private static readonly Option<int> s_evalWindow = new("--eval-window") { Description = "Window of accuracy over time and adaptation delay.", DefaultValueFactory = _ => 500 };

    public static Command Build()
    {
        var command = new Command("experiment", "Compare continual-learning strategies (no update, stateless retrain, stateful fine-tune, replay, replay + EWC) on a drifting stream, with naive baselines.");
        foreach (var option in new Option[] { s_stream, s_drift, s_samples, s_seed, s_strategy, s_engine, s_out, s_dataDir, s_previousLabel, s_previousFeatures, s_updateEvery, s_window, s_epochs,
                     s_warmUp, s_fineTuneEpochs, s_batch, s_lr, s_hidden, s_replayCapacity, s_replayRatio, s_replayPolicy, s_ewcLambda, s_evalWindow })
            command.Options.Add(option);
        foreach (var option in KeywordExperimentCommand.Options)
            command.Options.Add(option);
        command.SetAction(parseResult =>
        {
            var error = parseResult.InvocationConfiguration.Error;
            var output = parseResult.InvocationConfiguration.Output;
            if (parseResult.GetValue(s_stream)!.Equals("keywords", StringComparison.OrdinalIgnoreCase))
                return KeywordExperimentCommand.Run(parseResult,
                    p => KeywordExperimentCommand.Plan(p, s_strategy, s_lr, s_hidden, s_batch, s_replayCapacity, s_replayRatio, s_replayPolicy, s_ewcLambda),
                    parseResult.GetValue(s_out)!, "cl experiment " + string.Join(" ", parseResult.Tokens.Where(t => t.Type != System.CommandLine.Parsing.TokenType.Command).Select(t => t.Value)), output, error);
            ExperimentPlan plan;
            try
            {
                plan = Plan(parseResult);
            }
            catch (Exception e) when (e is UsageException or ArgumentException or FileNotFoundException or FormatException)
            {
                error.WriteLine($"cl experiment: {e.Message}");
                return 2;
            }
            return Execute(plan, parseResult.Tokens.Where(t => t.Type != System.CommandLine.Parsing.TokenType.Command).Select(t => t.Value), output, error);
        });
        return command;
    }

    /// <summary>Validates the options into a plan; throws <see cref="UsageException"/> naming the bad option and value.</summary>
    internal static ExperimentPlan Plan(ParseResult parse)
    {
        var drift = parse.GetValue(s_drift)!.ToLowerInvariant() switch
        {
            "abrupt" => DriftKind.Abrupt,
            "gradual" => DriftKind.Gradual,
            var other => throw new UsageException($"--drift value '{other}' is not a drift kind; allowed values: abrupt, gradual."),
        };
        var samples = parse.GetValue(s_samples);
        if (samples is < 1) throw new UsageException($"--samples value {samples} is invalid; it must be a positive number of samples.");
        var seed = parse.GetValue(s_seed);
        var engine = parse.GetValue(s_engine)!.ToLowerInvariant();
        if (engine is not ("managed" or "torch"))
            throw new UsageException($"--engine value '{engine}' is not an engine; allowed values: managed, torch.");
        var strategies = ParseOrUsage(() => StrategyNames.ParseList(parse.GetValue(s_strategy)!));
        var policy = parse.GetValue(s_replayPolicy)!.ToLowerInvariant() switch
        {
            "reservoir" => ReplayPolicyKind.Reservoir,
            "class-balanced" or "classbalanced" or "balanced" => ReplayPolicyKind.ClassBalanced,
            var other => throw new UsageException($"--replay-policy value '{other}' is not a policy; allowed values: reservoir, class-balanced."),
        };
        var hiddenText = parse.GetValue(s_hidden)!;
        var hidden = hiddenText.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(h => int.TryParse(h, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v > 0 ? v
                : throw new UsageException($"--hidden value '{hiddenText}' is invalid: '{h}' is not a positive layer size; use e.g. 32 or 64,32."))
            .ToArray();
        var options = new StrategyOptions
        {
            Hidden = hidden,
            Training = new TrainingOptions { LearningRate = parse.GetValue(s_lr) },
            BatchSize = parse.GetValue(s_batch),
            UpdateEvery = parse.GetValue(s_updateEvery),
            WarmUp = parse.GetValue(s_warmUp),
            Epochs = parse.GetValue(s_epochs),
            Window = parse.GetValue(s_window),
            FineTuneEpochs = parse.GetValue(s_fineTuneEpochs),
            ReplayCapacity = parse.GetValue(s_replayCapacity),
            ReplayRatio = parse.GetValue(s_replayRatio),
            ReplayPolicy = policy,
            EwcLambda = parse.GetValue(s_ewcLambda),
            Seed = seed,
        };
        try
        {
            options.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            // The message names the field as the record spells it; add the option the user typed.
            throw new UsageException($"{OptionFor(e.ParamName)}: {e.Message.Split(" (Parameter")[0]}");
        }
        var evalWindow = parse.GetValue(s_evalWindow);
        if (evalWindow < 1) throw new UsageException($"--eval-window value {evalWindow} is invalid; it must be at least 1.");

        var streamText = parse.GetValue(s_stream)!;
        var previousLabel = parse.GetValue(s_previousLabel);
        var stream = streamText.ToLowerInvariant() switch
        {
            "sea" => ExperimentStreams.Sea(drift, samples ?? 40_000, seed),
            "sea-shift" => ExperimentStreams.SeaShift(drift, samples ?? 40_000, seed),
            "hyperplane" => ExperimentStreams.Hyperplane(drift, samples ?? 40_000, seed),
            "elec2" => ExperimentStreams.Csv(FindElec2(parse.GetValue(s_dataDir)), previousLabel ?? true, samples, "elec2", parse.GetValue(s_previousFeatures)),
            _ when streamText.StartsWith("csv:", StringComparison.OrdinalIgnoreCase) && streamText.Length > 4 =>
                ExperimentStreams.Csv(streamText[4..], previousLabel ?? false, samples, previousFeatures: parse.GetValue(s_previousFeatures)),
            _ => throw new UsageException($"--stream value '{streamText}' is not a stream; allowed values: {Streams}."),
        };
        if (engine == "torch" && !TorchEngine.IsAvailable)
            throw new UsageException($"--engine torch cannot run here: {TorchEngine.UnavailableReason} Use --engine managed.");
        return new ExperimentPlan(stream, strategies, engine, options, new RunnerOptions { Window = evalWindow }, parse.GetValue(s_out)!);
    }

    /// <summary>elec2.csv from --data-dir, else $CL_DATA_DIR, else ./data; a clear error otherwise.</summary>
    internal static string FindElec2(string? dataDir)
    {
        var candidates = new List<string>();
        if (!string.IsNullOrEmpty(dataDir))
        {
            candidates.Add(dataDir);
        }
        else
        {
            var env = Environment.GetEnvironmentVariable("CL_DATA_DIR");
            if (!string.IsNullOrEmpty(env)) candidates.Add(env);
            candidates.Add("data");
        }
        foreach (var dir in candidates)
        {
            var path = Path.Combine(dir, "elec2.csv");
            if (File.Exists(path)) return path;
        }
        throw new UsageException(
            $"elec2.csv not found (looked in: {string.Join(", ", candidates.Select(c => $"'{Path.GetFullPath(c)}'"))}). " +
            "Point at the folder holding it with --data-dir <dir> or the CL_DATA_DIR environment variable, or pass the file itself with --stream csv:<path>.");
    }

    private static int Execute(ExperimentPlan plan, IEnumerable<string> tokens, TextWriter output, TextWriter error)
    {
        ITrainingEngine engine = plan.EngineName == "torch" ? new TorchEngine() : new ManagedEngine();
        var schema = plan.Stream.Stream.Schema;
        var strategies = plan.Strategies.Select(k => StrategyFactory.Create(k, engine, schema.FeatureCount, schema.ClassCount, plan.Options)).ToList();
        try
        {
            var entries = new List<ExperimentEntry>
            {
                new("majority-class", new MajorityClass(), IsBaseline: true),
                new("last-class", new LastClass(), IsBaseline: true),
            };
            entries.AddRange(strategies.Select(s => new ExperimentEntry(s.Name, s)));
            output.WriteLine($"Stream: {plan.Stream.Description}; {plan.Stream.Samples} samples; engine {engine.Name}; strategies {string.Join(", ", plan.Strategies.Select(StrategyNames.Of))}.");
            var result = RunWithProgress(plan, entries, output);

            // The table goes to the console first, so a failed write (full disk, no permission) loses no numbers.
            foreach (var line in ExperimentReport.TableLines(result)) output.WriteLine(line);
            var commandLine = "cl experiment " + string.Join(" ", tokens);
            try
            {
                ExperimentReport.WriteAll(result, plan.OutputDirectory, commandLine, Describe(plan, engine));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                error.WriteLine($"cl experiment: could not write the results to '{Path.GetFullPath(plan.OutputDirectory)}': {e.Message} Free space or pick another folder with --out.");
                return 1;
            }
            output.WriteLine($"Wrote {Path.Combine(plan.OutputDirectory, "results.md")}, accuracy.csv, accuracy.svg.");
            return 0;
        }
        finally
        {
            foreach (var s in strategies) s.Dispose();
        }
    }

    private static ExperimentResult RunWithProgress(ExperimentPlan plan, IReadOnlyList<ExperimentEntry> entries, TextWriter output)
    {
        var total = plan.Stream.Samples;
        // A progress bar only makes sense on an interactive terminal; redirected output gets a line per 10%.
        if (!Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive)
        {
            ExperimentResult? result = null;
            AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask($"{plan.Stream.Name}", maxValue: total);
                    result = ExperimentRunner.Run(plan.Stream, entries, plan.Runner, new InlineProgress(t => task.Value = t));
                });
            return result!;
        }
        var nextReport = 0L;
        return ExperimentRunner.Run(plan.Stream, entries, plan.Runner, new InlineProgress(t =>
        {
            if (t < nextReport) return;
            output.WriteLine($"  {100 * t / Math.Max(1, total),3}%  {t}/{total} samples");
            nextReport = t + Math.Max(1, total / 10);
        }));
    }

    private static string Describe(ExperimentPlan plan, ITrainingEngine engine)
    {
        var o = plan.Options;
        return string.Create(CultureInfo.InvariantCulture,
            $"Settings: engine {engine.Name}; head {string.Join("→", new[] { plan.Stream.Stream.Schema.FeatureCount }.Concat(o.Hidden).Append(plan.Stream.Stream.Schema.ClassCount))} (ReLU, softmax CE), Adam lr {o.Training.LearningRate}, batch {o.BatchSize}; ") +
            string.Create(CultureInfo.InvariantCulture,
            $"U = {o.UpdateEvery}, no-update warm-up N = {o.WarmUp}, stateless W = {o.Window} × E = {o.Epochs} epochs, stateful {o.FineTuneEpochs} pass(es) per update; ") +
            string.Create(CultureInfo.InvariantCulture,
            $"replay {o.ReplayPolicy} capacity {o.ReplayCapacity}, ratio {o.ReplayRatio}; EWC λ = {o.EwcLambda}, Fisher on {o.FisherSamples} replayed samples per update; inputs standardised with running mean/variance (updated after each prediction).");
    }

    private static IReadOnlyList<StrategyKind> ParseOrUsage(Func<IReadOnlyList<StrategyKind>> parse)
    {
        try
        {
            return parse();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }

    private static string OptionFor(string? field) => field switch
    {
        nameof(StrategyOptions.BatchSize) => "--batch",
        nameof(StrategyOptions.UpdateEvery) => "--update-every",
        nameof(StrategyOptions.WarmUp) => "--warm-up",
        nameof(StrategyOptions.Epochs) => "--epochs",
        nameof(StrategyOptions.Window) => "--window",
        nameof(StrategyOptions.FineTuneEpochs) => "--fine-tune-epochs",
        nameof(StrategyOptions.ReplayCapacity) => "--replay-capacity",
        nameof(StrategyOptions.ReplayRatio) => "--replay-ratio",
        nameof(StrategyOptions.EwcLambda) => "--ewc-lambda",
        nameof(TrainingOptions.LearningRate) => "--lr",
        _ => "invalid option",
    };

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool and lag or reorder).</summary>
    private sealed class InlineProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
