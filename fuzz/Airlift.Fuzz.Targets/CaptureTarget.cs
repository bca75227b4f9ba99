using Airlift.Cli.Doctor;
using Airlift.Cli.Doctor.Capture;

namespace Airlift.Fuzz;

/// <summary>
/// Target <c>capture</c>: <c>airlift doctor</c> on an arbitrary file: the pcap/pcapng reader, the link/IP/fragment/TCP
/// decoder, the STUN/DTLS reading, the session analysis and all three reports. Checked: the only exception that may
/// escape is <see cref="CaptureFormatException"/> (a typed error naming the offset); every report renders.
/// Limits are lowered so one input stays fast.
/// </summary>
internal static class CaptureTarget
{
    private static readonly DoctorOptions Options = new()
    {
        Limits = new CaptureLimits { MaxBlockBytes = 1 << 20, MaxFrameBytes = 1 << 16, MaxPendingFragmentedDatagrams = 16, MaxTcpStreams = 16, MaxTcpOutOfOrderBytes = 1 << 14 },
        MaxEventsPerSession = 2000,
        MaxTuples = 256,
    };

    public static void Run(ReadOnlySpan<byte> input)
    {
        DoctorResult result;
        try
        {
            result = DoctorAnalyzer.Analyze(new MemoryStream(input.ToArray(), writable: false), "fuzz.pcap", Options);
        }
        catch (CaptureFormatException e) when (e.Offset >= 0 && e.Offset <= input.Length)
        {
            return;
        }

        _ = DoctorReport.RenderText(result);
        _ = DoctorReport.RenderJson(result);
        _ = DoctorReport.RenderHtml(result);
        if (result.Stats.Frames < 0 || result.Sessions.Any(s => s.Events.Count > Options.MaxEventsPerSession))
        {
            throw new FuzzFindingException("counts out of bounds");
        }
    }
}
