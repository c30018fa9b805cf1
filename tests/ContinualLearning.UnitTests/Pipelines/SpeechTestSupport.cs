using System.Diagnostics;
using ContinualLearning.Audio;
using ContinualLearning.Onnx;

namespace ContinualLearning.UnitTests.Pipelines;

/// <summary>
/// The speech models (copied beside the tests by the build) and real clips spoken by espeak-ng, resampled by sox.
/// Missing, the tests skip with the reason, or fail under CL_REQUIRE_SPEECH=1 (CI).
/// </summary>
internal static class SpeechTestSupport
{
    public static TestDependency Speech { get; } = new("the speech-embedding model pair (melspectrogram.onnx + embedding_model.onnx)", "CL_REQUIRE_SPEECH",
        "build the test project (UsesSpeechModels copies them to speech-models/) or run build/speech-models.sh DIR and set CL_SPEECH_MODELS=DIR");

    public static TestDependency Espeak { get; } = new("espeak-ng (with sox)", "CL_REQUIRE_SPEECH", "sudo apt-get install espeak-ng sox");

    private static readonly Lazy<float[]?> Word = new(() => Speak("seven"));

    /// <summary>The models' directory; skips (or fails under CL_REQUIRE_SPEECH=1) when they are missing.</summary>
    public static string RequireModels()
    {
        var dir = SpeechModels.TryLocate();
        Speech.Require(dir is not null);
        return dir;
    }

    /// <summary>
    /// A clip of <paramref name="samples"/> at 16 kHz: a 440 Hz tone at amplitude 2000 plus the espeak-ng word
    /// "seven" from the start (cut to fit), int16-scale floats.
    /// </summary>
    public static float[] Clip(int samples)
    {
        var word = Word.Value;
        Espeak.Require(word is not null);
        var clip = new float[samples];
        for (var i = 0; i < samples; i++)
        {
            var v = 2000 * Math.Sin(2 * Math.PI * 440 * i / 16_000.0) + (i < word.Length ? word[i] : 0);
            clip[i] = (float)Math.Clamp(Math.Round(v), short.MinValue, short.MaxValue);
        }
        return clip;
    }

    private static float[]? Speak(string text)
    {
        var dir = Path.Combine(Path.GetTempPath(), "cl-speech-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var raw = Path.Combine(dir, "raw.wav");
            var resampled = Path.Combine(dir, "16k.wav");
            if (!Run("espeak-ng", ["-w", raw, text]) || !Run("sox", [raw, "-r", "16000", "-c", "1", "-b", "16", resampled])) return null;
            return WavReader.ReadPcm16Mono(File.ReadAllBytes(resampled), SpeechModels.Audio);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static bool Run(string program, string[] args)
    {
        try
        {
            var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in args) start.ArgumentList.Add(a);
            using var p = Process.Start(start)!;
            p.StandardOutput.ReadToEnd();
            p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
