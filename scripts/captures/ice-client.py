# A real full ICE agent (aiortc 1.4 / aioice: controlling, regular nomination against an ICE-lite server) as a client
# of `airlift serve`, for scripts/make-captures.sh. Run with /usr/bin/python3 inside the client's network namespace.
#
#   ice-client.py HTTP_BASE SETUP SECONDS
#
# Posts its offer to HTTP_BASE/echo?setup=SETUP (SETUP: active = Airlift is the DTLS client), sends a tiny synthetic
# video track at 5 frames/s (small captures), stays SECONDS after DTLS connects, prints one STATE line per change and
# a RESULT line, then closes. Exit status 0 when DTLS connected.
import asyncio
import json
import sys
import time
import urllib.request

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from av import VideoFrame

FPS = 5


class TinyTrack(VideoStreamTrack):
    async def recv(self):
        pts, time_base = await self.next_timestamp()
        await asyncio.sleep(1 / FPS - 1 / 30)
        frame = VideoFrame(width=64, height=48)
        for plane in frame.planes:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts = pts
        frame.time_base = time_base
        return frame


async def main():
    base, setup, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(TinyTrack(), direction="sendrecv")
    started = time.monotonic()

    @pc.on("iceconnectionstatechange")
    def ice_state():
        print(f"STATE {time.monotonic() - started:.3f} ice {pc.iceConnectionState}", flush=True)

    @pc.on("connectionstatechange")
    def conn_state():
        print(f"STATE {time.monotonic() - started:.3f} connection {pc.connectionState}", flush=True)

    await pc.setLocalDescription(await pc.createOffer())
    request = urllib.request.Request(f"{base}/echo?setup={setup}", data=pc.localDescription.sdp.encode(), headers={"Content-Type": "application/sdp"}, method="POST")
    answer = await asyncio.get_event_loop().run_in_executor(None, lambda: urllib.request.urlopen(request, timeout=10).read().decode())
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and pc.connectionState != "connected":
        await asyncio.sleep(0.05)
    connected = pc.connectionState == "connected"
    if connected:
        await asyncio.sleep(seconds)
    pairs = []
    for s in (await pc.getStats()).values():
        if s.type == "transport":
            pairs.append(s.type)
    ice = pc.sctp.transport.transport if pc.sctp else pc.getTransceivers()[0].sender.transport.transport
    checks = [
        {"pair": f"{p.local_candidate.host}:{p.local_candidate.port} -> {p.remote_addr[0]}:{p.remote_addr[1]}", "state": str(p.state), "nominated": p.nominated}
        for p in ice._connection._check_list
    ]
    print("RESULT " + json.dumps({"connected": connected, "connection": pc.connectionState, "ice": pc.iceConnectionState, "pairs": checks}), flush=True)
    await pc.close()
    return 0 if connected else 1


sys.exit(asyncio.run(main()))
