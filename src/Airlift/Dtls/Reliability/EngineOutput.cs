using System.Globalization;
using System.Text;
using Airlift.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Airlift.Dtls.Reliability;

/// <summary>
/// The output side both engines share: datagrams and events waiting for <c>PollOutput</c> (datagrams first, then events,
/// then the next deadline), counted into <see cref="DtlsStats"/> and the metrics as they leave.
/// </summary>
internal sealed class EngineOutput(DtlsStats stats, DtlsMetrics metrics)
{
    public Queue<byte[]> Datagrams { get; } = new();

    public Queue<DtlsEvent> Events { get; } = new();

    /// <summary>Copies the next datagram into <paramref name="buffer"/>, or returns the next event, or the deadline.</summary>
    /// <exception cref="ArgumentException"><paramref name="buffer"/> is smaller than the next datagram.</exception>
    public DtlsOutput Poll(Span<byte> buffer, TimeSpan deadline)
    {
        if (Datagrams.TryPeek(out var datagram))
        {
            if (buffer.Length < datagram.Length)
            {
                throw new ArgumentException($"Output buffer of {buffer.Length} bytes is smaller than the {datagram.Length}-byte datagram; pass at least MaxDatagramSize bytes.", nameof(buffer));
            }

            Datagrams.Dequeue();
            datagram.CopyTo(buffer);
            stats.DatagramsSent++;
            stats.BytesSent += datagram.Length;
            stats.LargestDatagramSent = Math.Max(stats.LargestDatagramSent, datagram.Length);
            metrics.DatagramsSent.Add(1);
            return new DtlsOutput(DtlsOutputKind.Datagram, datagram.Length, null, default);
        }

        return Events.TryDequeue(out var e)
            ? new DtlsOutput(DtlsOutputKind.Event, 0, e, default)
            : new DtlsOutput(DtlsOutputKind.Timeout, 0, null, deadline);
    }

    public void Clear()
    {
        Datagrams.Clear();
        Events.Clear();
    }
}

/// <summary>
/// The handshake timeline both engines keep (bounded), stamped with the time since the handshake began and the role, sent to
/// the logger at Debug, and attached to a timeout failure as its report.
/// </summary>
internal sealed class EngineTrace(DtlsRole role, TimeSpan startedAt, ILogger? logger, DtlsMetrics metrics)
{
    private const int MaxLines = 96;

    private readonly List<string> _lines = [];

    /// <summary>Adds a line and logs it.</summary>
    public void Log(TimeSpan now, string line)
    {
        var stamped = Add(now, line);
        if (logger is not null)
        {
            DtlsLog.Timeline(logger, stamped);
        }
    }

    /// <summary>Adds a line (the first <see cref="MaxLines"/> are kept) and returns it stamped.</summary>
    public string Add(TimeSpan now, string line)
    {
        var stamped = string.Create(CultureInfo.InvariantCulture, $"{(now - startedAt).TotalMilliseconds,8:0.0} ms  {role.ToString().ToLowerInvariant()}: {line}");
        if (_lines.Count < MaxLines)
        {
            _lines.Add(stamped);
        }

        return stamped;
    }

    /// <summary>
    /// Records a failure: the metric, the trace line, and the <see cref="DtlsFailed"/> event (with the timeline when the
    /// handshake timed out) queued before the line is logged, so the failure is reported even if the logger throws.
    /// </summary>
    public void Failed(TimeSpan now, DtlsFailureReason reason, string message, AlertDescription? alert, Queue<DtlsEvent> events)
    {
        metrics.HandshakesFailed.Add(1, new KeyValuePair<string, object?>("reason", reason.ToString()));
        var line = Add(now, $"failed: {reason}: {message}");
        events.Enqueue(new DtlsFailed(reason, message, alert, reason == DtlsFailureReason.Timeout ? Report : null));
        if (logger is not null)
        {
            DtlsLog.Timeline(logger, line);
        }
    }

    /// <summary>Carries another engine's timeline over (the switch from DTLS 1.2 to 1.3).</summary>
    public void Adopt(string earlier)
    {
        foreach (var line in earlier.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (_lines.Count < MaxLines)
            {
                _lines.Add(line.TrimEnd('\r'));
            }
        }
    }

    /// <summary>The lines joined by newlines (a failure report).</summary>
    public string Report => string.Join('\n', _lines);

    /// <summary>The lines, one per line.</summary>
    public string Text
    {
        get
        {
            var sb = new StringBuilder();
            foreach (var line in _lines)
            {
                sb.AppendLine(line);
            }

            return sb.ToString();
        }
    }
}
