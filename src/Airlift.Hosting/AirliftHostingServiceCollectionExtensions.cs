using System.Diagnostics.Metrics;
using Airlift.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Airlift's transport host as a hosted service.</summary>
public static class AirliftHostingServiceCollectionExtensions
{
    /// <summary>
    /// Runs a <c>TransportHost</c> with settings bound from <paramref name="configuration"/> (for example
    /// <c>builder.Configuration.GetSection("Airlift:TransportHost")</c>), validated when the application starts.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">A section shaped like <see cref="AirliftTransportHostSettings"/>.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddAirliftTransportHost(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return services.AddAirliftTransportHost(builder => builder.Bind(configuration));
    }

    /// <summary>Runs a <c>TransportHost</c> with settings set by <paramref name="configure"/>, validated when the application starts.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the settings.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddAirliftTransportHost(this IServiceCollection services, Action<AirliftTransportHostSettings> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return services.AddAirliftTransportHost(builder => builder.Configure(configure));
    }

    private static IServiceCollection AddAirliftTransportHost(this IServiceCollection services, Action<OptionsBuilder<AirliftTransportHostSettings>> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = services.AddOptions<AirliftTransportHostSettings>();
        configure(builder);
        builder.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AirliftTransportHostSettings>, AirliftTransportHostSettingsValidator>());
        services.AddSingleton(sp => new AirliftTransportHostService(
            sp.GetRequiredService<IOptionsMonitor<AirliftTransportHostSettings>>(),
            Options.Options.DefaultName,
            sp.GetService<ILoggerFactory>(),
            sp.GetService<IMeterFactory>(),
            sp.GetService<TimeProvider>()));
        services.AddHostedService(sp => sp.GetRequiredService<AirliftTransportHostService>());
        return services;
    }
}
