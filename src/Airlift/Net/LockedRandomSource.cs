namespace Airlift.Net;

/// <summary>Serialises a <see cref="RandomSource"/> that need not be thread-safe (a seeded one) for the loops of one server.</summary>
internal sealed class LockedRandomSource(RandomSource inner) : RandomSource
{
    private readonly Lock _gate = new();

    public override void Fill(Span<byte> destination)
    {
        lock (_gate)
        {
            inner.Fill(destination);
        }
    }
}
