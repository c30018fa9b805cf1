using System.Diagnostics;
using System.Globalization;

namespace ContinualLearning.Tests.Chaos;

/// <summary>
/// One real <c>cl aggregator run</c> child process with its own working directory and config file, kept alive like a
/// service manager would (systemd's <c>Restart=always</c>): <see cref="KillAsync"/> is a <c>kill -9</c>, and an exit the
/// harness did not cause (e.g. the registry unreachable at start while PostgreSQL is down) is restarted after
/// <see cref="RestartDelay"/> and counted. Everything the process writes goes to <see cref="LogPath"/>, across restarts.
/// </summary>
internal sealed class AggregatorProcess : IAsyncDisposable
{
    public static readonly TimeSpan RestartDelay = TimeSpan.FromSeconds(1);

    private readonly string _cliDll;
    private readonly string _configPath;
    private readonly Lock _lock = new();
    private readonly StreamWriter _log;
    private readonly CancellationTokenSource _stop = new();
    private Process? _process;
    private bool _killing;
    private bool _closed;
    private Task _supervisor = Task.CompletedTask;

    public AggregatorProcess(string instanceId, string workingDirectory, string configPath, string cliDll)
    {
        InstanceId = instanceId;
        WorkingDirectory = workingDirectory;
        _configPath = configPath;
        _cliDll = cliDll;
        _log = new StreamWriter(LogPath, append: true) { AutoFlush = true };
    }

    public string InstanceId { get; }

    public string WorkingDirectory { get; }

    public string LogPath => Path.Combine(WorkingDirectory, "aggregator.log");

    /// <summary>How often the harness killed this instance.</summary>
    public int Kills { get; private set; }

    /// <summary>Exits the harness did not cause, with their exit codes.</summary>
    public List<int> UnexpectedExits { get; } = [];

    /// <summary>The path of <c>cl.dll</c>: the test project references the Cli project, so it sits next to the test assembly.</summary>
    public static string FindCli()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "cl.dll");
        Assert.True(File.Exists(path), $"cl.dll not found at '{path}'; the test project's ProjectReference to src/ContinualLearning.Cli copies it there.");
        return path;
    }

    /// <summary>Starts the process unless it runs already (the supervisor and the fault schedule may both restart it).</summary>
    public void Start()
    {
        lock (_lock)
        {
            if (_process is { HasExited: false } || _stop.IsCancellationRequested) return;
            var psi = new ProcessStartInfo("dotnet")
            {
                WorkingDirectory = WorkingDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            psi.ArgumentList.Add(_cliDll);
            foreach (var a in new[] { "aggregator", "run", "--config", _configPath }) psi.ArgumentList.Add(a);
            // The child reads CL_AGGREGATOR_* too: nothing from the test runner's environment may change its options.
            foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("CL_AGGREGATOR_", StringComparison.Ordinal)).ToList()) psi.Environment.Remove(key);
            psi.Environment["DOTNET_gcServer"] = "0";
            // Each accepted delta id in the log (a debug line): a lost id can then be traced to the instance that took it, if any.
            psi.Environment["Logging__LogLevel__ContinualLearning.Aggregator.AggregatorService"] = "Debug";
            var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
            process.OutputDataReceived += (_, e) => Write(e.Data);
            process.ErrorDataReceived += (_, e) => Write(e.Data is null ? null : "stderr " + e.Data);
            Write($"=== harness: starting {InstanceId} at {DateTimeOffset.UtcNow:HH:mm:ss.fff}");
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            _process?.Dispose();
            _process = process;
            _killing = false;
            _supervisor = SuperviseAsync(process);
        }
    }

    /// <summary>SIGKILL: no shutdown, no flush, the MQTT session left for the broker to keep.</summary>
    public async Task KillAsync()
    {
        Process? process;
        lock (_lock)
        {
            process = _process;
            if (process is null) return;
            _killing = true;
            Kills++;
        }
        Write($"=== harness: kill -9 {InstanceId} at {DateTimeOffset.UtcNow:HH:mm:ss.fff}");
        try { process.Kill(entireProcessTree: false); }
        catch (InvalidOperationException) { } // already gone
        await process.WaitForExitAsync().ConfigureAwait(false);
    }

    /// <summary>Whether the process is running now.</summary>
    public bool IsRunning
    {
        get
        {
            lock (_lock) return _process is { HasExited: false };
        }
    }

    /// <summary>The last <paramref name="lines"/> lines of the log.</summary>
    public string Tail(int lines)
    {
        lock (_lock)
        {
            using var reader = new StreamReader(new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            var all = reader.ReadToEnd().Split('\n');
            // Stack traces come on one line from the console logger: the head of each says enough; the file has the rest.
            return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)).Select(l => l.Length > 400 ? l[..400] + " …" : l));
        }
    }

    private async Task SuperviseAsync(Process process)
    {
        try
        {
            await process.WaitForExitAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        bool restart;
        lock (_lock)
        {
            restart = !_killing && ReferenceEquals(process, _process);
            if (restart) UnexpectedExits.Add(process.ExitCode);
        }
        if (!restart) return;
        Write($"=== harness: {InstanceId} exited by itself with code {process.ExitCode.ToString(CultureInfo.InvariantCulture)}; restarting in {RestartDelay.TotalSeconds} s");
        try
        {
            await Task.Delay(RestartDelay, _stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        Start();
    }

    private void Write(string? line)
    {
        if (line is null) return;
        lock (_log)
        {
            // Output of a killed process may still drain after the harness closed the log.
            if (!_closed) _log.WriteLine(line);
        }
    }

    /// <summary>Stops supervising and kills the process.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await KillAsync().ConfigureAwait(false);
        await _supervisor.ConfigureAwait(false);
        lock (_lock) _process?.Dispose();
        lock (_log)
        {
            _closed = true;
            _log.Dispose();
        }
        _stop.Dispose();
    }
}
