using System.Security.Cryptography;

namespace ContinualLearning.Fleet.Signing;

/// <summary>
/// The operator public keys a device trusts for commands, by key id (<see cref="ReleaseKeys.KeyId"/>). Empty means the
/// device runs no command at all.
/// </summary>
public sealed class OperatorKeys : IDisposable
{
    private readonly Dictionary<string, ECDsa> _keys;

    private OperatorKeys(Dictionary<string, ECDsa> keys) => _keys = keys;

    /// <summary>The trusted keys by key id.</summary>
    public IReadOnlyDictionary<string, ECDsa> ById => _keys;

    /// <summary>Loads every SubjectPublicKeyInfo PEM file in <paramref name="paths"/> (P-256 only).</summary>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="CryptographicException">A file is not a P-256 public key.</exception>
    public static OperatorKeys Load(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var keys = new Dictionary<string, ECDsa>(StringComparer.Ordinal);
        try
        {
            foreach (var path in paths)
            {
                var key = ReleaseKeys.LoadPublic(path);
                if (!keys.TryAdd(ReleaseKeys.KeyId(key), key)) key.Dispose();
            }
        }
        catch
        {
            foreach (var k in keys.Values) k.Dispose();
            throw;
        }
        return new OperatorKeys(keys);
    }

    /// <summary>Disposes every key.</summary>
    public void Dispose()
    {
        foreach (var k in _keys.Values) k.Dispose();
        _keys.Clear();
    }
}
