// Drives headless Chromium against `airlift serve` pages (run inside a network namespace with only loopback).
// Env: PLAYWRIGHT_CORE (path of the playwright-core package), ECHO_CASES (JSON [{name, url, disableFeatures?}]),
//      ECHO_OUT (screenshot dir), ECHO_CASE_TIMEOUT_MS (per case, default 25000).
// Consecutive cases with the same disableFeatures share one browser launch with a fresh profile (for example
// ["WebRtcPqcForDtls"]: no post-quantum key share in the DTLS ClientHello).
// Prints one line per case: RESULT {"name", "ok", "error", "ms", "screenshot", "browser", "server", "closed",
// "browserVersion", "disableFeatures"}, where browser is this script's own digest of pc.getStats() (RTCTransportStats
// tlsVersion, dtlsCipher, srtpCipher, dtlsRole, dtlsState; inbound video frames and audio packets; the selected pair),
// the same shape as firefox-echo.html reports; then DONE.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const cases = JSON.parse(process.env.ECHO_CASES);
const outDir = process.env.ECHO_OUT;
const caseTimeout = Number(process.env.ECHO_CASE_TIMEOUT_MS || 25000);

// The flags of /work/shared/SCENARIOS.md; Playwright adds none of its own (ignoreDefaultArgs: true).
const flags = [
  "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
  "--allow-loopback-in-peer-connection", "--remote-debugging-pipe",
];
// Chromium keeps only the last --disable-features switch, so the features go into one.
const alwaysDisabled = ["WebRtcHideLocalIpsWithMdns"];

const log = (...a) => console.log("[chromium-echo]", ...a);
const sleep = ms => new Promise(r => setTimeout(r, ms));

// Runs in the page (serve's page keeps its RTCPeerConnection in window.airlift.pc).
async function statsDigest() {
  const pc = window.airlift && window.airlift.pc;
  if (!pc) { return null; }
  const out = {
    connectionState: pc.connectionState, iceConnectionState: pc.iceConnectionState,
    framesDecoded: 0, framesReceived: 0, packetsLost: 0, nackCount: 0, pliCount: 0,
    audioPacketsReceived: 0, audioSamplesReceived: 0, audioConcealedSamples: 0,
    dtlsState: null, tlsVersion: null, dtlsCipher: null, srtpCipher: null, dtlsRole: null, iceState: null,
    selectedPair: null, transports: [],
  };
  const report = await pc.getStats();
  const byId = new Map();
  report.forEach(s => byId.set(s.id, s));
  let selectedPairId = null;
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
    if (s.type === "inbound-rtp" && s.kind === "audio") {
      out.audioPacketsReceived += s.packetsReceived || 0;
      out.audioSamplesReceived += s.totalSamplesReceived || 0;
      out.audioConcealedSamples += s.concealedSamples || 0;
    }
    if (s.type === "transport") {
      out.transports.push(s);
      out.dtlsState = s.dtlsState; out.tlsVersion = s.tlsVersion ?? null; out.dtlsCipher = s.dtlsCipher ?? null;
      out.srtpCipher = s.srtpCipher ?? null; out.iceState = s.iceState ?? null; out.dtlsRole = s.dtlsRole ?? null;
      selectedPairId = s.selectedCandidatePairId || selectedPairId;
    }
  });
  const pair = selectedPairId && byId.get(selectedPairId);
  if (pair) {
    const l = byId.get(pair.localCandidateId) || {}, r = byId.get(pair.remoteCandidateId) || {};
    out.selectedPair = {
      state: pair.state,
      local: (l.protocol || "?") + " " + (l.address || l.ip) + ":" + l.port + " " + l.candidateType,
      remote: (r.protocol || "?") + " " + (r.address || r.ip) + ":" + r.port + " " + r.candidateType,
    };
  }
  return out;
}

async function serverState() {
  const a = window.airlift || {};
  const server = a.location ? await (await fetch(a.location + "/stats?trace=1", { cache: "no-store" })).json() : null;
  return { error: a.error, server, location: a.location };
}

async function waitForServer(url, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      const r = await fetch(url);
      if (r.ok) { return true; }
    } catch { /* not up yet */ }
    await sleep(200);
  }
  return false;
}

async function runCase(browser, c) {
  const started = Date.now();
  const result = {
    name: c.name, ok: false, error: null, ms: null, screenshot: null, browser: null, server: null, closed: null,
    browserVersion: browser.version(), disableFeatures: c.disableFeatures || [],
  };
  if (!await waitForServer(new URL("/", c.url).href, 30000)) {
    result.error = "server did not answer at " + c.url;
    return result;
  }
  const context = await browser.newContext({ viewport: { width: 860, height: 760 } });
  const page = await context.newPage();
  page.on("console", m => { if (m.type() === "error") { log(c.name, "console:", m.text()); } });
  try {
    await page.goto(c.url, { timeout: 10000 });
    await page.waitForFunction(() => {
      const a = window.airlift;
      return a && (a.error || (a.browser && a.browser.framesDecoded > 0 && a.browser.audioPacketsReceived > 0 && a.stats && a.stats.dtls && a.stats.dtls.state === "Connected"));
    }, null, { timeout: caseTimeout, polling: 200 });
    result.ms = Date.now() - started;
    // Let the table refresh once more with the echo running, then keep the picture.
    await sleep(1500);
    result.screenshot = path.join(outDir, "chromium-" + c.name + ".png");
    await page.screenshot({ path: result.screenshot, fullPage: true });
    result.browser = await page.evaluate(statsDigest);
    const state = await page.evaluate(serverState);
    result.error = state.error;
    result.server = state.server;
    // DELETE closes the server side; the stats then say closed.
    await page.evaluate(() => document.getElementById("stop").click());
    if (state.location) {
      for (let i = 0; i < 25; i++) {
        const closed = await page.evaluate(async loc => { const r = await fetch(loc + "/stats"); return r.ok ? (await r.json()).state : "gone"; }, state.location);
        result.closed = closed;
        if (closed !== "connected" && closed !== "connecting") { break; }
        await sleep(200);
      }
    }
    result.ok = !result.error && result.browser && result.browser.framesDecoded > 0;
  } catch (e) {
    result.error = String(e && e.message || e);
    try {
      result.screenshot = path.join(outDir, "chromium-" + c.name + "-failed.png");
      await page.screenshot({ path: result.screenshot, fullPage: true });
      result.browser = await page.evaluate(statsDigest);
      const state = await page.evaluate(serverState);
      result.server = state.server;
      result.error += state.error ? " / page: " + state.error : "";
    } catch { /* best effort */ }
  } finally {
    await context.close();
  }
  return result;
}

async function runLaunch(group) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlift-chromium-"));
  const disabled = [...alwaysDisabled, ...group.disableFeatures];
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      ignoreDefaultArgs: true,
      args: [...flags, "--disable-features=" + disabled.join(","), "--user-data-dir=" + userDataDir],
      timeout: 30000,
    });
    log("browser", browser.version(), "--disable-features=" + disabled.join(","));
    for (const c of group.cases) {
      const r = await runCase(browser, c);
      console.log("RESULT " + JSON.stringify(r));
    }
  } finally {
    if (browser) { await browser.close().catch(() => {}); }
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  const groups = [];
  for (const c of cases) {
    const disableFeatures = c.disableFeatures || [];
    const last = groups[groups.length - 1];
    if (last && JSON.stringify(last.disableFeatures) === JSON.stringify(disableFeatures)) { last.cases.push(c); }
    else { groups.push({ disableFeatures, cases: [c] }); }
  }
  try {
    for (const group of groups) {
      await runLaunch(group);
    }
  } catch (e) {
    console.log("FATAL " + String(e && e.stack || e));
    process.exitCode = 1;
  } finally {
    console.log("DONE");
  }
})();
