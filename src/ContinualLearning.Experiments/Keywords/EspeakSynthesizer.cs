using System.ComponentModel;
using System.Diagnostics;
using ContinualLearning.Audio;
using ContinualLearning.Text;

namespace ContinualLearning.Experiments.Keywords;

/// <summary>
/// Runs the espeak-ng program (Debian package <c>espeak-ng</c>) once per word. Arguments go through
/// <see cref="ProcessStartInfo.ArgumentList"/>, never a shell string, and are validated tokens
/// (<see cref="KeywordCorpusSpec.Validate"/>), so no word or voice can become an option or a command.
/// </summary>
internal sealed class EspeakSynthesizer(string executable = "espeak-ng")
{
    // A word takes ~20 ms; a hung synthesiser must not hang corpus generation.
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    // A word is about a second of speech; a minute (at the highest rate espeak-ng writes) is far beyond any word.
    private const int MaxSamples = 60 * 48_000;

    /// <summary>What to install when espeak-ng is missing.</summary>
    public const string InstallHint = "install espeak-ng (Debian/Ubuntu: sudo apt-get install espeak-ng)";

    /// <summary>The first line of <c>espeak-ng --version</c>, or null when the program cannot be run.</summary>
    public string? Version()
    {
        try
        {
            var (code, stdout, _) = Run(["--version"]);
            if (code != 0) return null;
            var text = System.Text.Encoding.UTF8.GetString(stdout);
            var line = text.Split('\n')[0].Trim();
            // "eSpeak NG text-to-speech: 1.51  Data at: /usr/lib/...": the data path differs between machines, the version does not.
            var cut = line.IndexOf("Data at", StringComparison.Ordinal);
            return (cut > 0 ? line[..cut] : line).Trim();
        }
        catch (Win32Exception)
        {
            return null;
        }
    }

    /// <summary>Speaks <paramref name="word"/> with <c>-v voice -s speed -p pitch --stdout</c>; returns the samples (int16 scale) and rate.</summary>
    /// <exception cref="InvalidOperationException">espeak-ng failed or wrote something other than a PCM16 mono WAV.</exception>
    public (float[] Samples, int SampleRate) Speak(string word, string voice, int speed, int pitch)
    {
        var (code, stdout, stderr) = Run(["-v", voice, "-s", speed.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-p", pitch.ToString(System.Globalization.CultureInfo.InvariantCulture), "--stdout", "--", word]);
        if (code != 0 || stdout.Length == 0)
            throw new InvalidOperationException($"espeak-ng failed for word '{word}' with voice '{voice}' (exit {code}): {DisplayText.Truncate(stderr.Trim(), 200)}. Check that the voice exists (espeak-ng --voices=en).");
        try
        {
            // --stdout streams the WAV, so its sizes are placeholders; it speaks at 22,050 Hz, resampled by the caller.
            return WavReader.ReadStreamedPcm16Mono(stdout, MaxSamples);
        }
        catch (WavFormatException e)
        {
            throw new InvalidOperationException($"espeak-ng's output for word '{word}' with voice '{voice}' is not a PCM16 mono WAV: {e.Message}", e);
        }
    }

    private (int Code, byte[] Stdout, string Stderr) Run(IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {executable}; {InstallHint}.");
        var stderrTask = process.StandardError.ReadToEndAsync();
        using var buffer = new MemoryStream();
        process.StandardOutput.BaseStream.CopyTo(buffer);
        if (!process.WaitForExit(s_timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{executable} did not finish within {s_timeout.TotalSeconds} s.");
        }
        return (process.ExitCode, buffer.ToArray(), stderrTask.GetAwaiter().GetResult());
    }
}
