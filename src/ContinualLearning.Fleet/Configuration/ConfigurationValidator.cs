using System.Diagnostics.CodeAnalysis;
using ContinualLearning.Fleet.Topics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ContinualLearning.Fleet.Configuration;

/// <summary>
/// The rules a service's options must follow, as an <see cref="IValidateOptions{TOptions}"/> (so the host checks
/// them again at start) that reports every problem as a <see cref="ConfigurationError"/>: key, value, what is wrong,
/// what to do.
/// </summary>
/// <typeparam name="T">The options type.</typeparam>
/// <param name="service">The service's name in error messages ("device", "aggregator").</param>
public abstract class ConfigurationValidator<T>(string service) : IValidateOptions<T>
    where T : class
{
    /// <summary>The service's name in error messages.</summary>
    public string Service => service;

    /// <summary>Every rule <paramref name="options"/> breaks; empty when they are valid.</summary>
    public IReadOnlyList<ConfigurationError> Check(T options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<ConfigurationError>();
        Check(options, errors);
        return errors;
    }

    /// <summary>Returns <paramref name="options"/>, or throws <see cref="ConfigurationException"/> listing every broken rule.</summary>
    public T ThrowIfInvalid(T options)
    {
        var errors = Check(options);
        return errors.Count == 0 ? options : throw new ConfigurationException(service, errors);
    }

    /// <inheritdoc/>
    public ValidateOptionsResult Validate(string? name, T options)
    {
        var errors = Check(options);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors.Select(e => e.ToString()));
    }

    /// <summary>Adds a <see cref="ConfigurationError"/> to <paramref name="errors"/> for every rule <paramref name="options"/> breaks.</summary>
    protected abstract void Check(T options, ICollection<ConfigurationError> errors);
}

/// <summary>Rules both services' validators apply.</summary>
public static class ConfigurationRules
{
    /// <summary>A fleet, model or device id: required, and usable as one MQTT topic level.</summary>
    public static void Id(ICollection<ConfigurationError> errors, string key, string? value, string howToSet)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (string.IsNullOrEmpty(value))
            errors.Add(new(key, null, "is required", howToSet));
        else if (!FleetTopics.IsValidId(value))
            errors.Add(new(key, value, "is not a valid id", "use 1–128 letters, digits, '-', '_' or '.' (no '/', '+', '#' or leading '$')"));
    }

    /// <summary>A positive duration.</summary>
    public static void Positive(ICollection<ConfigurationError> errors, string key, TimeSpan value, string written)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (value <= TimeSpan.Zero)
            errors.Add(new(key, written, "must be positive", "use a positive duration"));
    }

    /// <summary>Adds an error when <paramref name="ok"/> is false.</summary>
    public static void Require(ICollection<ConfigurationError> errors, bool ok, string key, object? value, string problem, string fix)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (!ok) errors.Add(new(key, value is IFormattable f ? f.ToString(null, System.Globalization.CultureInfo.InvariantCulture) : value?.ToString(), problem, fix));
    }
}

/// <summary>Registers a service's options, loaded and checked before the host was built, through the options pattern.</summary>
public static class ValidatedOptionsServiceCollectionExtensions
{
    /// <summary>
    /// Makes <paramref name="options"/> available as itself and as <see cref="IOptions{TOptions}"/>, with
    /// <paramref name="validator"/> run again when the host starts (<c>ValidateOnStart</c>): a host built from an object
    /// initialiser (tests, the demo) is held to the same rules as one built from configuration.
    /// </summary>
    public static IServiceCollection AddValidatedOptions<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] T>(this IServiceCollection services, T options, ConfigurationValidator<T> validator)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(validator);
        services.AddSingleton(options);
        services.AddSingleton<IValidateOptions<T>>(validator);
        // The options are immutable records built by their reader, so the factory hands out that instance (after the
        // validators) instead of creating and configuring a new one.
        services.AddSingleton<IOptionsFactory<T>>(sp => new LoadedOptionsFactory<T>(options, sp.GetServices<IValidateOptions<T>>()));
        services.AddOptions<T>().ValidateOnStart();
        return services;
    }

    private sealed class LoadedOptionsFactory<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] T>(T options, IEnumerable<IValidateOptions<T>> validators) : IOptionsFactory<T>
        where T : class
    {
        public T Create(string name)
        {
            var failures = validators.Select(v => v.Validate(name, options)).Where(r => r.Failed).SelectMany(r => r.Failures ?? []).ToList();
            return failures.Count == 0 ? options : throw new OptionsValidationException(name, typeof(T), failures);
        }
    }
}
