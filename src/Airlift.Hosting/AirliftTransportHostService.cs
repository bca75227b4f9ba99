using System.Diagnostics.Metrics;
using Airlift.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Airlift.Hosting;

/// <summary>
/// A <see cref="TransportHost"/> run by the generic host: bound when the application starts, disposed (close_notify to
/// every connected peer) when it stops. Take it from dependency injection and create sessions on <see cref="Host"/>.
/// </summary>
public sealed class AirliftTransportHostService : IHostedService, IAsyncDisposable
{
    private readonly IOptionsMonitor<AirliftTransportHostSettings> _settings;
    private readonly string _name;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly IMeterFactory? _meterFactory;
    private readonly TimeProvider _time;
    private TransportHost? _host;

    internal AirliftTransportHostService(IOptionsMonitor<AirliftTransportHostSettings> settings, string name, ILoggerFactory? loggerFactory, IMeterFactory? meterFactory, TimeProvider? time)
    {
        _settings = settings;
        _name = name;
        _loggerFactory = loggerFactory;
        _meterFactory = meterFactory;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The running transport host.</summary>
    /// <exception cref="InvalidOperationException">The application has not started yet, or has stopped.</exception>
    public TransportHost Host => _host ?? throw new InvalidOperationException("The Airlift transport host runs between the application's start and stop.");

    /// <summary>Validates the settings and binds every address.</summary>
    /// <param name="cancellationToken">Unused: binding does not wait.</param>
    /// <exception cref="OptionsValidationException">A setting is invalid; the message names it.</exception>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = _settings.Get(_name); // runs the validator: a bad setting throws OptionsValidationException here
        _host = new TransportHost(settings.ToOptions(_loggerFactory, _meterFactory), _time);
        return Task.CompletedTask;
    }

    /// <summary>Disposes the transport host: close_notify to every connected peer, sockets released.</summary>
    /// <param name="cancellationToken">Unused.</param>
    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        var host = Interlocked.Exchange(ref _host, null);
        if (host is not null)
        {
            await host.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>Validates <see cref="AirliftTransportHostSettings"/> by building the options, so errors name the setting.</summary>
internal sealed class AirliftTransportHostSettingsValidator : IValidateOptions<AirliftTransportHostSettings>
{
    public ValidateOptionsResult Validate(string? name, AirliftTransportHostSettings options)
    {
        try
        {
            options.ToOptions();
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException ex)
        {
            return ValidateOptionsResult.Fail("Airlift transport host settings: " + ex.Message);
        }
    }
}
