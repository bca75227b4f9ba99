namespace Airlift.Cli.Serve;

/// <summary>
/// The page <c>airlift serve</c> serves at <c>/</c>: the local camera, the echo beside it, and the transport state from
/// <c>GET /echo/{id}/stats</c> refreshed every second. Plain HTML and JavaScript, no build step, no external resource.
/// <c>?setup=active</c> makes the server the DTLS client; <c>?autostart=0</c> waits for the Start button.
/// <c>window.airlift</c> exposes the peer connection and the last stats for scripts (the end-to-end test reads it).
/// Publish sends the camera to <c>POST /whip</c> (WHIP, RFC 9725); Watch plays the newest publisher from <c>POST /whep</c>;
/// <c>window.airlift.publish()</c> / <c>watch()</c> / <c>broadcastStats()</c> do the same for scripts.
/// </summary>
internal static class ServePage
{
    public const string Html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Airlift echo</title>
        <style>
          body { font: 14px/1.4 system-ui, sans-serif; margin: 16px; color: #1d232a; background: #f6f7f9; }
          h1 { font-size: 20px; margin: 0 0 4px; }
          p.note { margin: 0 0 12px; color: #555; }
          .videos { display: flex; gap: 12px; flex-wrap: wrap; }
          figure { margin: 0; background: #111; border-radius: 6px; overflow: hidden; }
          figcaption { color: #ddd; background: #222; padding: 4px 8px; font-size: 12px; }
          video { display: block; width: 400px; height: 225px; background: #000; object-fit: contain; }
          .controls { margin: 12px 0; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
          table { border-collapse: collapse; background: #fff; width: 100%; max-width: 812px; }
          th, td { text-align: left; padding: 3px 10px; border-bottom: 1px solid #e3e6ea; font-variant-numeric: tabular-nums; }
          th { width: 190px; color: #444; font-weight: 600; }
          .ok { color: #11772b; font-weight: 600; }
          .bad { color: #b3261e; font-weight: 600; }
          #error { color: #b3261e; white-space: pre-wrap; }
        </style>
        </head>
        <body>
        <h1>Airlift echo</h1>
        <p class="note">Camera and microphone go to this server over ICE-lite, DTLS-SRTP and SRTP, and come straight back.
        The page has no authentication. The echo is muted: unmute it with headphones on.</p>
        <div class="videos">
          <figure><video id="local" autoplay muted playsinline></video><figcaption>Local camera</figcaption></figure>
          <figure><video id="remote" autoplay muted playsinline></video><figcaption>Echo from the server</figcaption></figure>
        </div>
        <div class="controls">
          <label>Server DTLS role
            <select id="setup">
              <option value="passive">server (a=setup:passive)</option>
              <option value="active">client (a=setup:active)</option>
            </select>
          </label>
          <button id="start">Start</button>
          <button id="stop">Stop</button>
          <label><input type="checkbox" id="unmute"> hear the echo</label>
          <span id="error"></span>
        </div>
        <div class="controls">
          <button id="publish">Publish (WHIP)</button>
          <button id="watch">Watch (WHEP)</button>
          <button id="leave">Leave</button>
          <span id="broadcast"></span>
        </div>
        <div class="videos">
          <figure><video id="watched" autoplay muted playsinline></video><figcaption>Watched (WHEP)</figcaption></figure>
        </div>
        <table id="state"><tbody></tbody></table>
        <script>
        "use strict";
        const $ = id => document.getElementById(id);
        const params = new URLSearchParams(location.search);
        const airlift = window.airlift = { pc: null, id: null, location: null, stats: null, browser: null, error: null, stream: null };
        let timer = null;

        if (params.get("setup") === "active") { $("setup").value = "active"; }
        $("unmute").onchange = () => { $("remote").muted = !$("unmute").checked; };
        $("start").onclick = () => start().catch(fail);
        $("stop").onclick = () => stop();

        function fail(e) {
          airlift.error = String(e && e.message || e);
          $("error").textContent = airlift.error;
        }

        async function start() {
          await stop();
          $("error").textContent = "";
          airlift.error = null;
          const stream = airlift.stream || await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
          airlift.stream = stream;
          $("local").srcObject = stream;
          const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
          airlift.pc = pc;
          for (const track of stream.getTracks()) {
            pc.addTransceiver(track, { direction: "sendrecv", streams: [stream] });
          }
          pc.ontrack = e => {
            const remote = $("remote");
            if (e.streams[0]) { remote.srcObject = e.streams[0]; }
            else {
              if (!remote.srcObject) { remote.srcObject = new MediaStream(); }
              remote.srcObject.addTrack(e.track);
            }
          };
          pc.onconnectionstatechange = () => render();
          await pc.setLocalDescription(await pc.createOffer());
          const response = await fetch("echo?setup=" + encodeURIComponent($("setup").value), {
            method: "POST", headers: { "Content-Type": "application/sdp" }, body: pc.localDescription.sdp,
          });
          const body = await response.text();
          if (response.status !== 201) { throw new Error("POST /echo: " + response.status + " " + body); }
          airlift.location = response.headers.get("Location");
          airlift.id = airlift.location.split("/").pop();
          await pc.setRemoteDescription({ type: "answer", sdp: body });
          timer = setInterval(() => refresh().catch(fail), 1000);
          refresh().catch(fail);
        }

        async function stop() {
          if (timer) { clearInterval(timer); timer = null; }
          const location = airlift.location;
          if (airlift.pc) { airlift.pc.close(); airlift.pc = null; }
          airlift.location = null;
          if (location) { await fetch(location, { method: "DELETE" }).catch(() => {}); }
        }

        async function refresh() {
          if (!airlift.location) { return; }
          const response = await fetch(airlift.location + "/stats", { cache: "no-store" });
          airlift.stats = response.ok ? await response.json() : { state: "gone (" + response.status + ")" };
          airlift.browser = await browserStats();
          render();
        }

        async function browserStats() {
          const pc = airlift.pc;
          if (!pc) { return null; }
          const out = { connectionState: pc.connectionState, framesDecoded: 0, framesReceived: 0, packetsLost: 0, nackCount: 0, pliCount: 0 };
          const report = await pc.getStats();
          report.forEach(s => {
            if (s.type === "inbound-rtp" && s.kind === "video") {
              out.framesDecoded += s.framesDecoded || 0;
              out.framesReceived += s.framesReceived || 0;
              out.packetsLost += s.packetsLost || 0;
              out.nackCount += s.nackCount || 0;
              out.pliCount += s.pliCount || 0;
              out.frameWidth = s.frameWidth;
              out.frameHeight = s.frameHeight;
            }
            if (s.type === "inbound-rtp" && s.kind === "audio") { out.audioPacketsReceived = s.packetsReceived; }
            if (s.type === "transport") {
              out.dtlsState = s.dtlsState; out.tlsVersion = s.tlsVersion; out.dtlsCipher = s.dtlsCipher;
              out.srtpCipher = s.srtpCipher; out.iceState = s.iceState; out.dtlsRole = s.dtlsRole;
            }
          });
          return out;
        }

        airlift.browserStats = browserStats;

        // WHIP / WHEP: one RTCPeerConnection each, sendonly or recvonly; the resource URL (Location) is DELETEd to leave.
        const cast = airlift.cast = { publish: null, watch: null };
        async function broadcast(kind) {
          const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
          if (kind === "whip") {
            const stream = airlift.stream || await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
            airlift.stream = stream;
            $("local").srcObject = stream;
            for (const track of stream.getTracks()) { pc.addTransceiver(track, { direction: "sendonly", streams: [stream] }); }
          } else {
            pc.addTransceiver("audio", { direction: "recvonly" });
            pc.addTransceiver("video", { direction: "recvonly" });
            pc.ontrack = e => {
              const v = $("watched");
              if (!v.srcObject) { v.srcObject = new MediaStream(); }
              v.srcObject.addTrack(e.track);
            };
          }
          await pc.setLocalDescription(await pc.createOffer());
          const response = await fetch(kind + "?setup=" + encodeURIComponent($("setup").value), {
            method: "POST", headers: { "Content-Type": "application/sdp" }, body: pc.localDescription.sdp,
          });
          const body = await response.text();
          if (response.status !== 201) { pc.close(); throw new Error("POST /" + kind + ": " + response.status + " " + body); }
          await pc.setRemoteDescription({ type: "answer", sdp: body });
          const session = { pc, location: response.headers.get("Location"), etag: response.headers.get("ETag") };
          cast[kind === "whip" ? "publish" : "watch"] = session;
          $("broadcast").textContent = kind.toUpperCase() + " " + session.location;
          return session;
        }
        async function leave(which) {
          for (const k of which ? [which] : ["publish", "watch"]) {
            const s = cast[k];
            cast[k] = null;
            if (s) { s.pc.close(); await fetch(s.location, { method: "DELETE" }).catch(() => {}); }
          }
        }
        async function broadcastStats(which) {
          const s = cast[which];
          if (!s) { return null; }
          const out = { connectionState: s.pc.connectionState, framesDecoded: 0, packetsReceived: 0, packetsSent: 0 };
          (await s.pc.getStats()).forEach(r => {
            if (r.type === "inbound-rtp") { out.packetsReceived += r.packetsReceived || 0; if (r.kind === "video") { out.framesDecoded += r.framesDecoded || 0; } }
            if (r.type === "outbound-rtp") { out.packetsSent += r.packetsSent || 0; }
            if (r.type === "transport") { out.dtlsRole = r.dtlsRole; out.dtlsState = r.dtlsState; }
          });
          const server = await fetch(s.location + "/stats", { cache: "no-store" });
          out.server = server.ok ? await server.json() : null;
          return out;
        }
        airlift.publish = () => broadcast("whip");
        airlift.watch = () => broadcast("whep");
        airlift.leave = leave;
        airlift.broadcastStats = broadcastStats;
        $("publish").onclick = () => broadcast("whip").catch(fail);
        $("watch").onclick = () => broadcast("whep").catch(fail);
        $("leave").onclick = () => leave().catch(fail);
        const num = n => (n ?? 0).toLocaleString("en-US");
        const bytes = n => n >= 1048576 ? (n / 1048576).toFixed(1) + " MiB" : n >= 1024 ? (n / 1024).toFixed(1) + " KiB" : num(n) + " B";
        const esc = t => String(t).replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[c]));
        const good = (text, ok) => `<span class="${ok ? "ok" : "bad"}">${text}</span>`;

        function render() {
          const s = airlift.stats || {}, b = airlift.browser || {};
          const ice = s.ice || {}, dtls = s.dtls || {}, srtp = s.srtp || {}, rtp = s.rtp || {}, rtcp = s.rtcp || {}, drops = s.drops || {};
          const otherDrops = (drops.beforeKeys || 0) + (drops.unknownStream || 0) + (drops.notSending || 0) + (drops.tooLarge || 0) + (drops.sendFailed || 0) + (drops.transportQueueFull || 0);
          const rows = [
            ["Session", esc((airlift.id || "-") + " (" + (s.state || "starting") + (s.closeReason ? ": " + s.closeReason : "") + ")")],
            ["ICE state", good(esc(ice.state || "-"), ice.state === "Connected" || ice.state === "Completed")],
            ["Selected tuple", esc(ice.selectedTuple || "-")],
            ["DTLS state / server role", good(esc(dtls.state || "-"), dtls.state === "Connected") + " / " + (dtls.role || "-") + (dtls.connectedAfterMs != null ? ", connected after " + dtls.connectedAfterMs + " ms" : "")],
            ["DTLS version", dtls.version || "-"],
            ["Cipher suite", esc(dtls.cipherSuite || "-")],
            ["SRTP profile", srtp.profile || "-"],
            ["RTP in (from browser)", num(rtp.packetsIn) + " packets, " + bytes(rtp.bytesIn || 0)],
            ["RTP out (echo)", num(rtp.packetsOut) + " packets, " + bytes(rtp.bytesOut || 0)],
            ["RTCP in / out", num(rtcp.packetsIn) + " / " + num(rtcp.packetsOut) + " (PLI " + num(rtcp.pli) + ", FIR " + num(rtcp.fir) + ", NACK forwarded " + num(rtcp.nack) + ", NACKed packets resent " + num(rtcp.retransmitted) + ", reports " + num(rtcp.reports) + ")"],
            ["SRTP drops", good(num(srtp.unprotectDrops) + " in (auth " + num(srtp.authFailures) + ", replay " + num(srtp.replays) + "), " + num(srtp.protectDrops) + " out", !srtp.unprotectDrops && !srtp.protectDrops)],
            ["Other drops", num(otherDrops)],
            ["Browser: echo decoded", good(num(b.framesDecoded) + " frames" + (b.frameWidth ? " (" + b.frameWidth + "x" + b.frameHeight + ")" : ""), b.framesDecoded > 0) + ", lost " + num(b.packetsLost) + ", NACK " + num(b.nackCount) + ", PLI " + num(b.pliCount)],
            ["Browser: transport", esc((b.connectionState || "-") + ", DTLS " + (b.dtlsState || "-") + " " + (b.tlsVersion || "") + " " + (b.dtlsCipher || "") + ", " + (b.srtpCipher || ""))],
          ];
          $("state").tBodies[0].innerHTML = rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join("");
        }

        render();
        window.addEventListener("pagehide", () => { if (airlift.location) { fetch(airlift.location, { method: "DELETE", keepalive: true }); } });
        if (params.get("autostart") !== "0") { start().catch(fail); }
        </script>
        </body>
        </html>
        """;
}
