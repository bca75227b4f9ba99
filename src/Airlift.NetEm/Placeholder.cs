namespace Airlift.NetEm;

/// <summary>Marker for the NetEm assembly.</summary>
internal static class NetEmAssembly
{
}
