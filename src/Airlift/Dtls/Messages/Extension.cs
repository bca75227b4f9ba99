namespace Airlift.Dtls.Messages;

/// <summary>
/// One hello extension (RFC 5246 7.4.1.4): its type and raw extension_data. Unknown and GREASE types
/// are kept as they are; <see cref="Extensions"/> has the typed codecs for the ones Airlift reads.
/// </summary>
/// <remarks><see cref="Data"/> is compared by reference by the generated equality.</remarks>
internal readonly record struct Extension(ExtensionType Type, byte[] Data);
