// Drives stock headless Firefox ESR against `airlift serve` (run inside a network namespace with only loopback). There is
// no Playwright build for Firefox here, so there is no remote control: a small HTTP server on 127.0.0.1 serves the test
// page (firefox-echo.html), proxies /serve/<port>/... to serve on 127.0.0.1:<port> (one origin for the page, no CORS in
// serve), and receives each case's result, answering with the URL of the next case. One Firefox process runs the cases in
// order; when a case gives no result in time, that Firefox is killed, the case fails, and a fresh one starts at the next.
// Env: FIREFOX (executable), ECHO_CASES (JSON [{name, port, setup, bundle}]), ECHO_OUT (screenshots and logs),
//      ECHO_CASE_TIMEOUT_MS (per case inside the page, default 25000), ECHO_HTTP_PORT (default 8090).
// Prints one line per case: RESULT {"name", "ok", "error", "ms", "screenshot", "browser", "server", "closed", ...}; then DONE.
"use strict";
const fs = require("fs");
const http = require("http");
const os = require("os");
const path = require("path");
const { spawn } = require("child_process");

const firefox = process.env.FIREFOX || "/usr/bin/firefox-esr";
const cases = JSON.parse(process.env.ECHO_CASES);
const outDir = process.env.ECHO_OUT;
const caseTimeout = Number(process.env.ECHO_CASE_TIMEOUT_MS || 25000);
const httpPort = Number(process.env.ECHO_HTTP_PORT || 8090);
const pageHtml = fs.readFileSync(path.join(__dirname, "firefox-echo.html"));
const servePorts = new Set(cases.map(c => Number(c.port)));
const origin = "http://127.0.0.1:" + httpPort;

const log = (...a) => console.log("[firefox-echo]", ...a);
const sleep = ms => new Promise(r => setTimeout(r, ms));
const caseUrl = c => `${origin}/page?case=${encodeURIComponent(c.name)}&serve=${c.port}&setup=${c.setup}&bundle=${c.bundle || "balanced"}&timeout=${caseTimeout}`;

// Everything Firefox needs to run unattended, with fake devices that count as capturing (media.navigator.permission.fake:
// without it Firefox gathers only the default-route address and ICE fails at once in a route-less namespace), loopback
// candidates, plain host addresses (no mDNS), and no first-run pages, telemetry, updates or background connections.
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
  "browser.startup.firstrunSkipsHomepage": true,
  "startup.homepage_welcome_url": "about:blank",
  "startup.homepage_welcome_url.additional": "",
  "browser.aboutwelcome.enabled": false,
  "trailhead.firstrun.didSeeAboutWelcome": true,
  "browser.sessionstore.resume_from_crash": false,
  "browser.tabs.warnOnClose": false,
  "toolkit.startup.max_resumed_crashes": -1,
  "datareporting.policy.dataSubmissionEnabled": false,
  "datareporting.healthreport.uploadEnabled": false,
  "toolkit.telemetry.enabled": false,
  "toolkit.telemetry.unified": false,
  "toolkit.telemetry.reportingpolicy.firstRun": false,
  "app.update.auto": false,
  "app.update.enabled": false,
  "app.normandy.enabled": false,
  "extensions.update.enabled": false,
  "extensions.getAddons.cache.enabled": false,
  "network.captive-portal-service.enabled": false,
  "network.connectivity-service.enabled": false,
  "browser.safebrowsing.malware.enabled": false,
  "browser.safebrowsing.phishing.enabled": false,
  "browser.safebrowsing.downloads.enabled": false,
  "browser.newtabpage.enabled": false,
  "browser.ping-centre.telemetry": false,
  "dom.disable_beforeunload": true,
  "devtools.console.stdout.content": true,
  "browser.dom.window.dump.enabled": true,
};

const results = new Map();
let current = 0; // index of the case the running Firefox is on
let waiter = null; // resolves when the current case posts its result

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", d => { size += d.length; if (size > 16 << 20) { req.destroy(); reject(new Error("body too large")); } else { chunks.push(d); } });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

async function proxy(req, res, port, rest) {
  const body = req.method === "GET" || req.method === "HEAD" ? undefined : await readBody(req);
  const headers = {};
  if (req.headers["content-type"]) { headers["content-type"] = req.headers["content-type"]; }
  const r = await fetch(`http://127.0.0.1:${port}${rest}`, { method: req.method, headers, body, redirect: "manual" });
  const out = { "content-type": r.headers.get("content-type") || "text/plain", "cache-control": "no-store" };
  if (r.headers.get("location")) { out.location = r.headers.get("location"); }
  res.writeHead(r.status, out);
  res.end(Buffer.from(await r.arrayBuffer()));
}

function onResult(json) {
  const r = JSON.parse(json);
  if (typeof r.screenshot === "string" && r.screenshot.startsWith("data:image/png;base64,")) {
    const file = path.join(outDir, "firefox-" + r.name + (r.ok ? "" : "-failed") + ".png");
    fs.writeFileSync(file, Buffer.from(r.screenshot.slice("data:image/png;base64,".length), "base64"));
    r.screenshot = file;
  } else {
    r.screenshot = null;
  }
  const index = cases.findIndex(c => c.name === r.name);
  if (index < 0 || results.has(r.name)) { return null; }
  results.set(r.name, r);
  console.log("RESULT " + JSON.stringify(r));
  current = index + 1;
  const next = cases[current];
  if (waiter) { waiter(); }
  return next ? caseUrl(next) : null;
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, origin);
    const m = url.pathname.match(/^\/serve\/(\d+)(\/.*)$/);
    if (req.method === "GET" && url.pathname === "/page") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end(pageHtml);
    } else if (m && servePorts.has(Number(m[1]))) {
      await proxy(req, res, Number(m[1]), m[2] + url.search);
    } else if (req.method === "POST" && url.pathname === "/result") {
      const next = onResult((await readBody(req)).toString("utf8"));
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ next }));
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

async function waitForServer(port, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/`)).ok) { return true; }
    } catch { /* not up yet */ }
    await sleep(200);
  }
  return false;
}

function newProfile() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "airlift-firefox-"));
  fs.writeFileSync(path.join(dir, "user.js"), Object.entries(prefs).map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});`).join("\n") + "\n");
  return dir;
}

// Runs one Firefox from case `from`; resolves when every case has a result or the current one timed out.
async function runFirefox(from, launch) {
  const profile = newProfile();
  const logFile = fs.openSync(path.join(outDir, `firefox-${launch}.log`), "w");
  const child = spawn(firefox, ["--headless", "--no-remote", "--profile", profile, caseUrl(cases[from])], {
    detached: true, stdio: ["ignore", logFile, logFile], env: { ...process.env, MOZ_HEADLESS: "1", HOME: profile },
  });
  let exited = false;
  child.on("exit", (code, signal) => { exited = true; log(`firefox ${launch} exited`, code, signal); if (waiter) { waiter(); } });
  current = from;
  try {
    for (;;) {
      const index = current;
      if (index >= cases.length || exited) { return; }
      // The page gives up by itself after caseTimeout; allow for the close, the post and a Firefox start.
      const timedOut = await new Promise(resolve => {
        const t = setTimeout(() => resolve(true), caseTimeout + 20000);
        waiter = () => { clearTimeout(t); resolve(false); };
      });
      waiter = null;
      if (timedOut && current === index) {
        const c = cases[index];
        const r = { name: c.name, ok: false, error: `no result from the page within ${caseTimeout + 20000} ms (Firefox killed; see firefox-${launch}.log)`, screenshot: null, browser: null, server: null, closed: null };
        results.set(c.name, r);
        console.log("RESULT " + JSON.stringify(r));
        current = index + 1;
        return;
      }
    }
  } finally {
    if (!exited) {
      try { process.kill(-child.pid, "SIGTERM"); } catch { /* gone */ }
      for (let i = 0; i < 50 && !exited; i++) { await sleep(100); }
      if (!exited) { try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ } }
    }
    fs.closeSync(logFile);
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  try {
    await new Promise((resolve, reject) => { server.once("error", reject); server.listen(httpPort, "127.0.0.1", resolve); });
    for (const port of servePorts) {
      if (!await waitForServer(port, 30000)) { throw new Error(`airlift serve did not answer on 127.0.0.1:${port}`); }
    }
    let launch = 0;
    while (current < cases.length && launch < cases.length) {
      launch++;
      const from = current;
      await runFirefox(from, launch);
      if (current === from) {
        // Firefox exited without a single result: fail the case so the run moves on.
        const c = cases[from];
        const r = { name: c.name, ok: false, error: `Firefox exited before the case posted a result (see firefox-${launch}.log)`, screenshot: null, browser: null, server: null, closed: null };
        results.set(c.name, r);
        console.log("RESULT " + JSON.stringify(r));
        current = from + 1;
      }
    }
  } catch (e) {
    console.log("FATAL " + String(e && e.stack || e));
    process.exitCode = 1;
  } finally {
    server.close();
    console.log("DONE");
  }
})();
