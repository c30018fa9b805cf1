using System.Diagnostics;
using System.Text.RegularExpressions;
using Npgsql;

namespace ContinualLearning.TestKit;

/// <summary>
/// A real PostgreSQL server of its own: <c>initdb</c> into a temp directory, <c>pg_ctl start</c> on a free loopback port
/// with its Unix socket in that directory, torn down (and the directory deleted) on dispose — the PostgreSQL
/// counterpart of <see cref="MosquittoBroker"/>. It can be stopped hard (<see cref="KillAsync"/>, as a crash) or
/// gracefully and started again on the same port and data, for outage tests.
/// </summary>
/// <remarks>
/// PostgreSQL refuses to run as root. Run as root (CI containers), the fixture gives the directory to the
/// <c>postgres</c> account the Debian package creates and runs the server's programs as that user through
/// <c>runuser</c>; otherwise it runs them as the current user.
/// </remarks>
public sealed partial class PostgresServer : IAsyncDisposable
{
    /// <summary>The database and role the tests use (created by <c>initdb</c>: a superuser without a password, trust auth on loopback only).</summary>
    public const string User = "cl";

    private readonly string _bin;
    private readonly string _dir;
    private readonly string? _runAs;

    private PostgresServer(string bin, string dir, int port, string? runAs)
    {
        _bin = bin;
        _dir = dir;
        Port = port;
        _runAs = runAs;
    }

    public int Port { get; }

    /// <summary>An Npgsql connection string for the server's <c>postgres</c> database as <see cref="User"/>.</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username={User};Database=postgres;Pooling=false;Timeout=10";

    private string DataDir => Path.Combine(_dir, "data");

    private string LogPath => Path.Combine(_dir, "postgres.log");

    /// <summary>The folder holding <c>initdb</c> and <c>pg_ctl</c> ($CL_POSTGRES_BIN, else Debian's newest), or null.</summary>
    public static string? FindBinDirectory()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("CL_POSTGRES_BIN") is { Length: > 0 } env) candidates.Add(env);
        if (Directory.Exists("/usr/lib/postgresql"))
            candidates.AddRange(Directory.GetDirectories("/usr/lib/postgresql").OrderDescending(StringComparer.Ordinal).Select(d => Path.Combine(d, "bin")));
        return candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")));
    }

    /// <summary>Creates a cluster in a new temp directory and starts it.</summary>
    public static async Task<PostgresServer> StartAsync()
    {
        var bin = FindBinDirectory() ?? throw new InvalidOperationException(
            $"PostgreSQL is not installed: these tests need a real server. Install it with '{TestDependency.Postgres.Install}'.");
        var runAs = Environment.UserName == "root" ? "postgres" : null;
        var dir = Directory.CreateTempSubdirectory("cl-postgres-").FullName;
        var server = new PostgresServer(bin, dir, MosquittoBroker.FreePort(), runAs);
        if (runAs is not null)
            await server.RunAsync("chown", ["-R", $"{runAs}:", dir], asServerUser: false).ConfigureAwait(false);
        // --no-sync: a test cluster need not survive a power cut of the test machine; the server itself keeps fsync on.
        await server.RunAsync(Path.Combine(bin, "initdb"), ["-D", server.DataDir, "-U", User, "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"]).ConfigureAwait(false);
        await server.StartProcessAsync().ConfigureAwait(false);
        return server;
    }

    /// <summary>
    /// Creates an empty database on this server and returns a connection string for it (same user and options as
    /// <see cref="ConnectionString"/>). Cheaper than a server per test: one <c>initdb</c> per test class, one database per test.
    /// </summary>
    /// <param name="name">Lower-case letters, digits and underscores, starting with a letter (e.g. <c>t_</c> + a GUID in "N" form).</param>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        if (!DatabaseName().IsMatch(name))
            throw new ArgumentException($"Database name '{name}' must be 1-63 lower-case letters, digits or underscores starting with a letter.", nameof(name));
        await using (var connection = new NpgsqlConnection(ConnectionString))
        {
            await connection.OpenAsync().ConfigureAwait(false);
            // CREATE DATABASE takes no parameters; the name is checked above, so quoting it is enough.
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        return new NpgsqlConnectionStringBuilder(ConnectionString) { Database = name }.ConnectionString;
    }

    /// <summary>Stops the server gracefully (<c>pg_ctl stop -m fast</c>, as a service restart does).</summary>
    public Task StopAsync() => File.Exists(Path.Combine(DataDir, "postmaster.pid"))
        ? RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", DataDir, "-m", "fast", "-w", "stop"])
        : Task.CompletedTask;

    /// <summary>Kills the server as a crash would (<c>pg_ctl stop -m immediate</c>: no checkpoint, recovery on the next start).</summary>
    public Task KillAsync() => RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", DataDir, "-m", "immediate", "-w", "stop"]);

    /// <summary>Starts the server again on the same port and data.</summary>
    public Task RestartAsync() => StartProcessAsync();

    /// <summary>The server's log (for failure messages).</summary>
    public string ReadLog() => File.Exists(LogPath) ? File.ReadAllText(LogPath) : "(no log)";

    private Task StartProcessAsync()
    {
        // Loopback only, the socket in our own directory (not /var/run/postgresql, which may not be writable).
        var options = $"-c listen_addresses=127.0.0.1 -p {Port} -k {_dir}";
        return RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", DataDir, "-l", LogPath, "-o", options, "-w", "-t", "30", "start"]);
    }

    private async Task RunAsync(string program, IReadOnlyList<string> arguments, bool asServerUser = true)
    {
        var psi = _runAs is not null && asServerUser
            ? new ProcessStartInfo("runuser", ["-u", _runAs, "--", program, .. arguments])
            : new ProcessStartInfo(program, arguments);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {program}.");
        // Read both pipes while waiting: pg_ctl's children inherit them, so wait for the exit, not for end of stream.
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            // The server pg_ctl started may hold the pipe open: its end of stream may never come.
            var ended = await Task.WhenAny(stderr, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false) == stderr;
            var error = ended ? await stderr.ConfigureAwait(false) : "(its stderr is still held open by a child)";
            throw new InvalidOperationException($"{Path.GetFileName(program)} {string.Join(' ', arguments)} exited with {process.ExitCode}: {error} {ReadLog()}");
        }
    }

    [GeneratedRegex("^[a-z][a-z0-9_]{0,62}$")]
    private static partial Regex DatabaseName();

    public async ValueTask DisposeAsync()
    {
        try { await StopAsync().ConfigureAwait(false); }
        catch (InvalidOperationException) { } // already stopped or never started: the directory goes anyway
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
