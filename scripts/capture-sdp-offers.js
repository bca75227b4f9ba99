// Captures real SDP offers for tests/fixtures/sdp (issue #12): headless Chromium (bundlePolicy balanced and max-bundle),
// stock headless Firefox ESR (balanced and max-bundle) and aiortc. Run by scripts/capture-sdp-offers.sh inside a network
// namespace with only loopback. Every browser offer has an audio and a video transceiver (sendrecv, fake devices, one
// stream) and a data channel (m=application ... webrtc-datachannel), taken after ICE gathering completed (loopback host
// candidates), exactly as pc.localDescription.sdp gives it.
// Env: PLAYWRIGHT_CORE, FIREFOX, OUT (the fixture folder).
"use strict";
const fs = require("fs");
const http = require("http");
const os = require("os");
const path = require("path");
const { spawn, execFileSync } = require("child_process");
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const outDir = process.env.OUT;
const firefox = process.env.FIREFOX || "/usr/bin/firefox-esr";
const port = 8097;
const origin = `http://127.0.0.1:${port}`;
const log = (...a) => console.log("[capture]", ...a);
const sleep = ms => new Promise(r => setTimeout(r, ms));

const page = `<!doctype html><meta charset="utf-8"><title>offer</title><script>
"use strict";
const policy = new URLSearchParams(location.search).get("policy");
(async () => {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
  const pc = new RTCPeerConnection({ bundlePolicy: policy, rtcpMuxPolicy: "require" });
  for (const t of stream.getTracks()) { pc.addTransceiver(t, { direction: "sendrecv", streams: [stream] }); }
  pc.createDataChannel("chat");
  await pc.setLocalDescription(await pc.createOffer());
  if (pc.iceGatheringState !== "complete") {
    await new Promise(r => { pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r(); setTimeout(r, 5000); });
  }
  await fetch("/offer?policy=" + policy + "&ua=" + encodeURIComponent(navigator.userAgent), { method: "POST", body: pc.localDescription.sdp });
})().catch(e => fetch("/offer?error=1", { method: "POST", body: String(e) }));
</script>`;

const offers = [];
let waiter = null;
const server = http.createServer((req, res) => {
  const url = new URL(req.url, origin);
  if (url.pathname === "/page") {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(page);
    return;
  }
  if (url.pathname === "/offer") {
    const chunks = [];
    req.on("data", d => chunks.push(d));
    req.on("end", () => {
      offers.push({ policy: url.searchParams.get("policy"), ua: url.searchParams.get("ua"), error: url.searchParams.get("error"), sdp: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(204);
      res.end();
      if (waiter) { waiter(); }
    });
    return;
  }
  res.writeHead(404);
  res.end();
});

function nextOffer(ms) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("no offer within " + ms + " ms")), ms);
    waiter = () => { clearTimeout(t); waiter = null; resolve(offers.shift()); };
  });
}

function save(name, header, offer) {
  if (offer.error) { throw new Error(name + ": " + offer.sdp); }
  const file = path.join(outDir, name + ".sdp");
  // The header lines are not SDP: the tests strip lines starting with '#' before parsing.
  fs.writeFileSync(file, header.map(h => "# " + h + "\n").join("") + offer.sdp);
  log("wrote", file, offer.sdp.length, "chars");
}

async function captureChromium() {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium", ignoreDefaultArgs: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--use-fake-device-for-media-stream",
      "--use-fake-ui-for-media-stream", "--allow-loopback-in-peer-connection", "--remote-debugging-pipe",
      "--disable-features=WebRtcHideLocalIpsWithMdns", "about:blank"],
  });
  try {
    for (const policy of ["balanced", "max-bundle"]) {
      const p = await browser.newPage();
      const got = nextOffer(20000);
      await p.goto(`${origin}/page?policy=${policy}`);
      const offer = await got;
      save(`chromium-${policy}`, [`Captured by scripts/capture-sdp-offers.sh from ${offer.ua}`, `bundlePolicy ${policy}, audio+video sendrecv (fake devices) and a data channel, after ICE gathering`], offer);
      await p.close();
    }
  } finally {
    await browser.close();
  }
}

async function captureFirefox() {
  const prefs = {
    "media.navigator.streams.fake": true, "media.navigator.permission.disabled": true, "media.navigator.permission.fake": true,
    "media.peerconnection.ice.loopback": true, "media.peerconnection.ice.obfuscate_host_addresses": false,
    "browser.shell.checkDefaultBrowser": false, "browser.aboutwelcome.enabled": false, "app.update.auto": false,
    "datareporting.policy.dataSubmissionEnabled": false, "toolkit.telemetry.enabled": false, "app.normandy.enabled": false,
    "network.captive-portal-service.enabled": false, "network.connectivity-service.enabled": false,
  };
  for (const policy of ["balanced", "max-bundle"]) {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), "airlift-capture-ff-"));
    fs.writeFileSync(path.join(profile, "user.js"), Object.entries(prefs).map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});`).join("\n") + "\n");
    const child = spawn(firefox, ["--headless", "--no-remote", "--profile", profile, `${origin}/page?policy=${policy}`],
      { detached: true, stdio: "ignore", env: { ...process.env, MOZ_HEADLESS: "1", HOME: profile } });
    try {
      const offer = await nextOffer(60000);
      save(`firefox-${policy}`, [`Captured by scripts/capture-sdp-offers.sh from ${offer.ua}`, `bundlePolicy ${policy}, audio+video sendrecv (fake devices) and a data channel, after ICE gathering`], offer);
    } finally {
      try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ }
      await sleep(500);
      fs.rmSync(profile, { recursive: true, force: true });
    }
  }
}

function captureAiortc() {
  const py = `
import asyncio, aiortc
from aiortc import RTCPeerConnection
async def main():
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    pc.addTransceiver("video", direction="sendrecv")
    pc.createDataChannel("chat")
    await pc.setLocalDescription(await pc.createOffer())
    print(aiortc.__version__)
    print(pc.localDescription.sdp, end="")
    await pc.close()
asyncio.run(main())
`;
  const out = execFileSync("/usr/bin/python3", ["-c", py], { encoding: "utf8" });
  const nl = out.indexOf("\n");
  save("aiortc", [`Captured by scripts/capture-sdp-offers.sh from aiortc ${out.slice(0, nl)} (python3-aiortc)`, "audio+video transceivers sendrecv (no tracks) and a data channel, after ICE gathering"], { sdp: out.slice(nl + 1) });
}

(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  await new Promise(r => server.listen(port, "127.0.0.1", r));
  try {
    await captureChromium();
    await captureFirefox();
    captureAiortc();
  } catch (e) {
    console.log("FATAL " + (e && e.stack || e));
    process.exitCode = 1;
  } finally {
    server.close();
  }
})();
