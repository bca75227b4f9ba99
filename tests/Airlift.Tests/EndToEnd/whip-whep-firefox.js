// WHIP/WHEP through `airlift serve` with two browsers (run inside a network namespace with only loopback): headless
// Chromium (Playwright) publishes its fake camera with serve's own page (window.airlift.publish(), POST /whip), and stock
// headless Firefox ESR watches that publisher from the test-owned page firefox-whep.html (POST /whep/{publisher}) until it
// decodes video. There is no Playwright build for Firefox here: a small HTTP server on 127.0.0.1 serves the page, proxies
// /serve/... to serve, and receives the page's result (as firefox-echo.js does). Then the keyframe path is read back: the
// viewers' keyframe requests (Firefox's own PLIs and one per joining viewer) reach the publisher as PLI, at most once per
// 500 ms: Chromium's outbound-rtp pliCount against serve's publisher counters. One case per DTLS role (?setup=).
// Env: PLAYWRIGHT_CORE, FIREFOX, SERVE_URL (e.g. http://127.0.0.1:8084), ECHO_OUT, ECHO_CASE_TIMEOUT_MS (default 25000),
//      ECHO_HTTP_PORT (default 8091).
// Prints one line per case: RESULT {"name", "ok", "error", "publisher", "viewer", "pli"}; then DONE.
"use strict";
const fs = require("fs");
const http = require("http");
const os = require("os");
const path = require("path");
const { spawn } = require("child_process");
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const firefox = process.env.FIREFOX || "/usr/bin/firefox-esr";
const serve = process.env.SERVE_URL || "http://127.0.0.1:8084";
const outDir = process.env.ECHO_OUT;
const caseTimeout = Number(process.env.ECHO_CASE_TIMEOUT_MS || 25000);
const httpPort = Number(process.env.ECHO_HTTP_PORT || 8091);
const origin = "http://127.0.0.1:" + httpPort;
const pageHtml = fs.readFileSync(path.join(__dirname, "firefox-whep.html"));
const sleep = ms => new Promise(r => setTimeout(r, ms));
const log = (...a) => console.log("[whip-whep-firefox]", ...a);

// The same unattended profile as firefox-echo.js (fake devices counting as capturing, loopback candidates, no mDNS).
const prefs = {
  "media.navigator.streams.fake": true,
  "media.navigator.permission.disabled": true,
  "media.navigator.permission.fake": true,
  "media.peerconnection.ice.loopback": true,
  "media.peerconnection.ice.obfuscate_host_addresses": false,
  "media.autoplay.default": 0,
  "media.autoplay.blocking_policy": 0,
  "browser.shell.checkDefaultBrowser": false,
  "browser.startup.homepage_override.mstone": "ignore",
  "browser.aboutwelcome.enabled": false,
  "browser.sessionstore.resume_from_crash": false,
  "toolkit.startup.max_resumed_crashes": -1,
  "datareporting.policy.dataSubmissionEnabled": false,
  "datareporting.healthreport.uploadEnabled": false,
  "toolkit.telemetry.enabled": false,
  "app.update.auto": false,
  "app.normandy.enabled": false,
  "extensions.update.enabled": false,
  "network.captive-portal-service.enabled": false,
  "network.connectivity-service.enabled": false,
  "browser.safebrowsing.malware.enabled": false,
  "browser.safebrowsing.phishing.enabled": false,
  "dom.disable_beforeunload": true,
  "devtools.console.stdout.content": true,
};

let waiter = null;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", d => { size += d.length; if (size > 1 << 20) { req.destroy(); reject(new Error("body too large")); } else { chunks.push(d); } });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, origin);
    if (req.method === "GET" && url.pathname === "/page") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end(pageHtml);
    } else if (url.pathname.startsWith("/serve/")) {
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : await readBody(req);
      const headers = req.headers["content-type"] ? { "content-type": req.headers["content-type"] } : {};
      const r = await fetch(serve + url.pathname.slice("/serve".length) + url.search, { method: req.method, headers, body, redirect: "manual" });
      const out = { "content-type": r.headers.get("content-type") || "text/plain", "cache-control": "no-store" };
      if (r.headers.get("location")) { out.location = r.headers.get("location"); }
      res.writeHead(r.status, out);
      res.end(Buffer.from(await r.arrayBuffer()));
    } else if (req.method === "POST" && url.pathname === "/result") {
      const body = (await readBody(req)).toString("utf8");
      res.writeHead(204);
      res.end();
      if (waiter) { waiter(JSON.parse(body)); }
    } else if (req.method === "POST" && url.pathname === "/log") {
      log("page", (await readBody(req)).toString("utf8"));
      res.writeHead(204);
      res.end();
    } else {
      res.writeHead(404);
      res.end();
    }
  } catch (e) {
    log("http error", req.method, req.url, String(e && e.message || e));
    if (!res.headersSent) { res.writeHead(502); }
    res.end();
  }
});

// One Firefox per case: resolves with the page's result, or a failure when none came in time.
async function watchWithFirefox(name, setup, whep) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "airlift-firefox-whep-"));
  fs.writeFileSync(path.join(profile, "user.js"), Object.entries(prefs).map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});`).join("\n") + "\n");
  const logFile = fs.openSync(path.join(outDir, `firefox-whep-${name}.log`), "w");
  const url = `${origin}/page?case=${encodeURIComponent(name)}&whep=${encodeURIComponent(whep)}&setup=${setup}&timeout=${caseTimeout}`;
  const child = spawn(firefox, ["--headless", "--no-remote", "--profile", profile, url], {
    detached: true, stdio: ["ignore", logFile, logFile], env: { ...process.env, MOZ_HEADLESS: "1", HOME: profile },
  });
  let exited = false;
  child.on("exit", () => { exited = true; });
  try {
    return await new Promise(resolve => {
      const t = setTimeout(() => resolve({ ok: false, error: `no result from Firefox within ${caseTimeout + 20000} ms (see firefox-whep-${name}.log)` }), caseTimeout + 20000);
      waiter = r => { clearTimeout(t); resolve(r); };
    });
  } finally {
    waiter = null;
    if (!exited) {
      try { process.kill(-child.pid, "SIGTERM"); } catch { /* gone */ }
      for (let i = 0; i < 50 && !exited; i++) { await sleep(100); }
      if (!exited) { try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ } }
    }
    fs.closeSync(logFile);
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

async function until(what, fn, ms) {
  const end = Date.now() + ms;
  let last = null;
  while (Date.now() < end) {
    last = await fn();
    if (last && last.done) { return last; }
    await sleep(250);
  }
  throw new Error(what + " within " + ms + " ms: " + JSON.stringify(last));
}

// Chromium's own count of PLIs received for its video (outbound-rtp pliCount, RFC 4585 6.3.1).
const publisherPli = page => page.evaluate(async () => {
  let pliCount = 0, firCount = 0;
  (await window.airlift.cast.publish.pc.getStats()).forEach(r => {
    if (r.type === "outbound-rtp" && r.kind === "video") { pliCount += r.pliCount || 0; firCount += r.firCount || 0; }
  });
  return { pliCount, firCount };
});

async function runCase(browser, setup) {
  const name = "firefox-" + setup;
  const result = { name, ok: false, error: null, publisher: null, viewer: null, pli: null };
  const context = await browser.newContext();
  try {
    const pub = await context.newPage();
    await pub.goto(`${serve}/?autostart=0&setup=${setup}`, { timeout: 10000 });
    await pub.evaluate(() => window.airlift.publish().then(() => null));
    const publishedAt = Date.now();
    result.publisher = (await until("publisher media reaching serve", async () => {
      const s = await pub.evaluate(() => window.airlift.broadcastStats("publish"));
      return { done: s && s.server && s.server.rtpIn > 50, s };
    }, caseTimeout)).s;
    const publisherLocation = await pub.evaluate(() => window.airlift.cast.publish.location);
    const whep = "/whep/" + publisherLocation.split("/").pop();

    result.viewer = await watchWithFirefox(name, setup, whep);
    if (!result.viewer.ok) { throw new Error("Firefox viewer: " + result.viewer.error); }

    // Let a PLI sent late in the viewer's life arrive, then read both ends of the keyframe path at one moment.
    await sleep(500);
    const browserPli = await publisherPli(pub);
    const server = await (await fetch(serve + publisherLocation + "/stats")).json();
    result.pli = {
      publisherPliCount: browserPli.pliCount, publisherFirCount: browserPli.firCount,
      serverKeyframeRequests: server.keyframeRequests, serverKeyframeRequestsLimited: server.keyframeRequestsLimited,
      publishedMs: Date.now() - publishedAt,
    };
    await pub.evaluate(() => window.airlift.leave("publish"));
    result.ok = true;
  } catch (e) {
    result.error = String(e && e.message || e);
  } finally {
    await context.close().catch(() => {});
  }
  return result;
}

(async () => {
  let browser = null;
  fs.mkdirSync(outDir, { recursive: true });
  try {
    await new Promise((resolve, reject) => { server.once("error", reject); server.listen(httpPort, "127.0.0.1", resolve); });
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium", ignoreDefaultArgs: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        "--allow-loopback-in-peer-connection", "--remote-debugging-pipe", "--disable-features=WebRtcHideLocalIpsWithMdns", "about:blank"],
    });
    for (let i = 0; i < 120; i++) {
      try { if ((await fetch(serve + "/")).ok) { break; } } catch { /* not up yet */ }
      await sleep(250);
    }
    for (const setup of ["passive", "active"]) {
      const r = await runCase(browser, setup);
      log(r.name, r.ok ? "ok" : r.error);
      console.log("RESULT " + JSON.stringify(r));
    }
  } catch (e) {
    console.log("FATAL " + String(e && e.stack || e));
    process.exitCode = 1;
  } finally {
    if (browser) { await browser.close().catch(() => {}); }
    server.close();
    console.log("DONE");
  }
})();
