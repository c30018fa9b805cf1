using System.Net;
using ContinualLearning.Device.Agent;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Device.Gpio;
using ContinualLearning.Device.Serving;
using ContinualLearning.Fleet.Configuration;
using ContinualLearning.Fleet.Signing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Device.Hosting;

/// <summary>
/// Builds the daemon as a .NET Generic Host (the ASP.NET Core flavour, for Kestrel): systemd integration
/// (<c>Type=notify</c>, journald-friendly logs), the loopback HTTP API, and <see cref="DeviceService"/> which runs the
/// learner, the MQTT agent, the GPIO panel and the training loop.
/// </summary>
public static class DeviceHost
{
    public static WebApplication Build(DeviceOptions options, TorchEngineProvider? torch = null, Action<ILoggingBuilder>? configureLogging = null, SimulatedGpioDriver? simulatedGpio = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "cl-device", ContentRootPath = AppContext.BaseDirectory });
        builder.Services.AddSystemd();
        builder.Services.Configure<HostOptions>(h =>
        {
            // The host's own budget must cover the training run's grace period plus the MQTT goodbye.
            h.ShutdownTimeout = options.ShutdownTimeout + TimeSpan.FromSeconds(5);
        });
        builder.Logging.ClearProviders();
        if (options.LogFormat == LogFormat.Json)
            builder.Logging.AddJsonConsole(o => o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ");
        else
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        configureLogging?.Invoke(builder.Logging);

        builder.WebHost.ConfigureKestrel(k =>
        {
            if (options.HttpPort is { } port) k.Listen(IPAddress.Loopback, port);
            // One byte over the cap, so LocalApi sees the excess and answers its own 413 with a JSON body.
            k.Limits.MaxRequestBodySize = options.Limits.SampleMaxBytes + 1L;
        });
        if (options.HttpPort is null) builder.WebHost.UseUrls(); // no endpoints

        builder.Services.AddValidatedOptions(options, DeviceOptionsValidator.Instance);
        builder.Services.AddSingleton(sp => new DeviceRuntime(options, TrainingEngines.Resolve(options.Engine, torch), sp.GetRequiredService<ILoggerFactory>()));
        builder.Services.AddSingleton(sp => new DeviceService(options, sp.GetRequiredService<DeviceRuntime>(), sp.GetRequiredService<ILoggerFactory>(), simulatedGpio));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DeviceService>());
        // Silent for 3 check intervals (at least a minute) outside a training run = hung; see SystemdWatchdog.
        var allowedSilence = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMinutes(1).Ticks, 3 * options.TrainCheckInterval.Ticks));
        builder.Services.AddHostedService(sp => SystemdWatchdog.FromEnvironment(
            () => sp.GetRequiredService<DeviceRuntime>().Unresponsive(allowedSilence), sp.GetRequiredService<ILoggerFactory>().CreateLogger<SystemdWatchdog>()));

        var app = builder.Build();
        var runtime = app.Services.GetRequiredService<DeviceRuntime>();
        var service = app.Services.GetRequiredService<DeviceService>();
        if (options.HttpPort is not null) app.MapDeviceApi(runtime, () => service.Agent);
        return app;
    }

    /// <summary>The bound HTTP address (useful with port 0), e.g. http://127.0.0.1:41234; null when HTTP is off.</summary>
    public static Uri? HttpAddress(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        return address is null ? null : new Uri(address);
    }
}

/// <summary>
/// The hosted service: opens the learner (or waits for a first release), starts the MQTT agent, the GPIO panel and
/// the training loop; on stop gives a running training round <see cref="DeviceOptions.ShutdownTimeout"/> to finish,
/// then cancels it, publishes the offline status and closes everything.
/// </summary>
public sealed partial class DeviceService : IHostedService, IAsyncDisposable
{
    private readonly DeviceOptions _options;
    private readonly DeviceRuntime _runtime;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly SimulatedGpioDriver? _simulatedGpio;
    private readonly CancellationTokenSource _stop = new();
    private System.Security.Cryptography.ECDsa? _fleetKey;
    private GpioPanel? _gpio;
    private Task? _trainingLoop;

    public DeviceService(DeviceOptions options, DeviceRuntime runtime, ILoggerFactory loggerFactory, SimulatedGpioDriver? simulatedGpio = null)
    {
        _options = options;
        _runtime = runtime;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<DeviceService>();
        _simulatedGpio = simulatedGpio;
    }

    /// <summary>The MQTT agent once started.</summary>
    public DeviceAgent? Agent { get; private set; }

    public DeviceRuntime Runtime => _runtime;

    public GpioPanel? Gpio => _gpio;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        LogStarting(_logger, _options.DeviceId, _options.Fleet, _options.ModelName, _options.Cohort, _options.Broker.Host, _options.Broker.Port, _runtime.Engine.Name, _options.DataDirectory);
        _fleetKey = ReleaseKeys.LoadPublic(_options.FleetPublicKeyPath);
        await _runtime.OpenAsync(cancellationToken).ConfigureAwait(false);
        Agent = new DeviceAgent(_runtime, _fleetKey, _loggerFactory.CreateLogger<DeviceAgent>());
        await Agent.StartAsync(cancellationToken).ConfigureAwait(false);
        if (_options.Gpio.Enabled)
        {
            var controller = GpioPanel.OpenController(_options.Gpio, _simulatedGpio);
            _gpio = new GpioPanel(_runtime, controller, _options.Gpio, _logger);
        }
        _trainingLoop = Task.Run(() => _runtime.RunTrainingLoopAsync(_stop.Token), CancellationToken.None);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        LogStopping(_logger, _options.DeviceId);
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_trainingLoop is not null) await _trainingLoop.WaitAsync(cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        if (Agent is not null) await Agent.StopAsync().ConfigureAwait(false);
        if (_gpio is not null) await _gpio.DisposeAsync().ConfigureAwait(false);
        _gpio = null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "cl device {DeviceId} starting: fleet {Fleet}, model {Model}, cohort {Cohort}, broker {Host}:{Port}, engine {Engine}, data {Data}.")]
    private static partial void LogStarting(ILogger logger, string deviceId, string fleet, string model, string cohort, string host, int port, string engine, string data);

    [LoggerMessage(Level = LogLevel.Information, Message = "cl device {DeviceId} stopping.")]
    private static partial void LogStopping(ILogger logger, string deviceId);

    public async ValueTask DisposeAsync()
    {
        if (Agent is not null) await Agent.DisposeAsync().ConfigureAwait(false);
        await _runtime.DisposeAsync().ConfigureAwait(false);
        _fleetKey?.Dispose();
        _stop.Dispose();
    }
}
