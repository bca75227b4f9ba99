// What the browser e2e drivers share (whip-whep.js, whip-whep-firefox.js, firefox-echo.js): waiting, the Chromium launch,
// the unattended Firefox profile and its start/stop, and the bits of the small HTTP server that serves a test page to
// Firefox (which has no Playwright build here) and proxies to `airlift serve` on the same origin.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { spawn } = require("child_process");

const sleep = ms => new Promise(r => setTimeout(r, ms));

// Polls fn until it returns { done: true, ... } (that value) or ms pass (an error naming what and the last value).
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

// True once GET url answers 2xx, false after ms.
async function waitForHttp(url, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try { if ((await fetch(url)).ok) { return true; } } catch { /* not up yet */ }
    await sleep(200);
  }
  return false;
}

// Headless system Chromium through playwright-core, with fake camera and microphone and loopback candidates (no mDNS).
const launchChromium = chromium => chromium.launch({
  executablePath: "/usr/bin/chromium", ignoreDefaultArgs: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection", "--remote-debugging-pipe", "--disable-features=WebRtcHideLocalIpsWithMdns", "about:blank"],
});

// Everything Firefox needs to run unattended, with fake devices that count as capturing (media.navigator.permission.fake:
// without it Firefox gathers only the default-route address and ICE fails at once in a route-less namespace), loopback
// candidates, plain host addresses (no mDNS), and no first-run pages, telemetry, updates or background connections.
const firefoxPrefs = {
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

// Starts headless Firefox on url with a throwaway profile, its output in logPath. Returns { exited(), stop() }: stop()
// ends it (SIGTERM to its process group, SIGKILL after 5 s) and removes the profile. onExit(code, signal) is optional.
function startFirefox(executable, url, logPath, onExit) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "airlift-firefox-"));
  fs.writeFileSync(path.join(profile, "user.js"), Object.entries(firefoxPrefs).map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});`).join("\n") + "\n");
  const logFile = fs.openSync(logPath, "w");
  const child = spawn(executable, ["--headless", "--no-remote", "--profile", profile, url], {
    detached: true, stdio: ["ignore", logFile, logFile], env: { ...process.env, MOZ_HEADLESS: "1", HOME: profile },
  });
  let exited = false;
  child.on("exit", (code, signal) => { exited = true; if (onExit) { onExit(code, signal); } });
  return {
    exited: () => exited,
    async stop() {
      if (!exited) {
        try { process.kill(-child.pid, "SIGTERM"); } catch { /* gone */ }
        for (let i = 0; i < 50 && !exited; i++) { await sleep(100); }
        if (!exited) { try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ } }
      }
      fs.closeSync(logFile);
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// The request body, refused past limit bytes.
function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", d => { size += d.length; if (size > limit) { req.destroy(); reject(new Error("body too large")); } else { chunks.push(d); } });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

// Forwards req to target (a full URL) and answers with its status, content type and Location (redirects not followed).
async function proxyTo(req, res, target) {
  const body = req.method === "GET" || req.method === "HEAD" ? undefined : await readBody(req, 16 << 20);
  const headers = req.headers["content-type"] ? { "content-type": req.headers["content-type"] } : {};
  const r = await fetch(target, { method: req.method, headers, body, redirect: "manual" });
  const out = { "content-type": r.headers.get("content-type") || "text/plain", "cache-control": "no-store" };
  if (r.headers.get("location")) { out.location = r.headers.get("location"); }
  res.writeHead(r.status, out);
  res.end(Buffer.from(await r.arrayBuffer()));
}

// Serves the test page at GET /page, proxies what route(url) maps to a target URL, hands POST /result bodies to
// onResult (whose return value, if any, is sent back as JSON) and logs POST /log lines.
function pageServer(http, origin, pageHtml, route, onResult, log) {
  return http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, origin);
      const target = route(url);
      if (req.method === "GET" && url.pathname === "/page") {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
        res.end(pageHtml);
      } else if (target) {
        await proxyTo(req, res, target);
      } else if (req.method === "POST" && url.pathname === "/result") {
        const answer = onResult((await readBody(req, 16 << 20)).toString("utf8"));
        if (answer === undefined) {
          res.writeHead(204);
          res.end();
        } else {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify(answer));
        }
      } else if (req.method === "POST" && url.pathname === "/log") {
        log("page", (await readBody(req, 1 << 20)).toString("utf8"));
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
}

// Publishes serve's fake camera from serve's own page (window.airlift.publish(), POST /whip) and waits until its media
// reaches serve; returns { page, stats, publishedAt } (publishedAt: Date.now() once publish() resolved).
async function publish(context, serve, setup, timeout) {
  const page = await context.newPage();
  await page.goto(`${serve}/?autostart=0&setup=${setup}`, { timeout: 10000 });
  await page.evaluate(() => window.airlift.publish().then(() => null));
  const publishedAt = Date.now();
  const stats = (await until("publisher media reaching serve", async () => {
    const s = await page.evaluate(() => window.airlift.broadcastStats("publish"));
    return { done: s && s.server && s.server.rtpIn > 50, s };
  }, timeout)).s;
  return { page, stats, publishedAt };
}

// The WHIP/WHEP drivers' main: Chromium up, serve answering, runCase(browser, setup) for each DTLS role, a RESULT line
// each, then DONE (FATAL first on an error). before() and after() run around it (e.g. a page server).
async function runWhipCases(chromium, serve, runCase, log, before = async () => {}, after = () => {}) {
  let browser = null;
  try {
    await before();
    browser = await launchChromium(chromium);
    await waitForHttp(serve + "/", 30000);
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
    after();
    console.log("DONE");
  }
}

module.exports = { sleep, until, waitForHttp, launchChromium, firefoxPrefs, startFirefox, readBody, proxyTo, pageServer, publish, runWhipCases };
