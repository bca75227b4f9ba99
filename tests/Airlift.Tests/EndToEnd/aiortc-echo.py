# aiortc 1.4 as a second real client of `airlift serve`: sends a synthetic video track, receives the echo, decodes it.
# Run with /usr/bin/python3 inside a network namespace (aiortc omits 127.0.0.1 candidates).
# Protocol on stdout/stdin: prints OFFER <json sdp>, reads one line <json answer sdp>, prints RESULT <json>.
import asyncio
import json
import sys
import time

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from av import VideoFrame

WANT_FRAMES = 10
TIMEOUT_S = 20


class SyntheticTrack(VideoStreamTrack):
    """Small frames (keeps the VP8 encoder cheap) whose shade changes every frame."""

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=160, height=120)
        shade = (pts // 3000) % 200 + 20
        for i, plane in enumerate(frame.planes):
            plane.update(bytes([shade if i == 0 else 128]) * plane.buffer_size)
        frame.pts = pts
        frame.time_base = time_base
        return frame


async def main():
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(SyntheticTrack(), direction="sendrecv")
    received = {"frames": 0, "width": None, "first_frame_s": None}
    started = time.monotonic()

    @pc.on("track")
    def on_track(track):
        async def consume():
            while True:
                try:
                    frame = await track.recv()
                except Exception:
                    return
                received["frames"] += 1
                if received["width"] is None:
                    received["width"] = frame.width
                    received["first_frame_s"] = round(time.monotonic() - started, 3)

        asyncio.ensure_future(consume())

    await pc.setLocalDescription(await pc.createOffer())
    print("OFFER " + json.dumps(pc.localDescription.sdp), flush=True)
    line = await asyncio.get_event_loop().run_in_executor(None, sys.stdin.readline)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=json.loads(line), type="answer"))

    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline and received["frames"] < WANT_FRAMES:
        await asyncio.sleep(0.1)

    stats = {}
    for s in (await pc.getStats()).values():
        if s.type == "inbound-rtp":
            stats["inboundPackets"] = s.packetsReceived
        elif s.type == "outbound-rtp":
            stats["outboundPackets"] = s.packetsSent
    sctp_dtls = pc.getTransceivers()[0].receiver.transport
    result = {
        "frames": received["frames"],
        "width": received["width"],
        "firstFrameS": received["first_frame_s"],
        "iceState": pc.iceConnectionState,
        "connectionState": pc.connectionState,
        "dtlsState": sctp_dtls.state,
        "dtlsRole": sctp_dtls._role,
        "stats": stats,
    }
    print("RESULT " + json.dumps(result), flush=True)
    # Stay connected until told to close (the test reads the server's stats meanwhile); close_notify then ends the session.
    await asyncio.wait_for(asyncio.get_event_loop().run_in_executor(None, sys.stdin.readline), 30)
    await pc.close()


asyncio.run(main())
