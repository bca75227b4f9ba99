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
const path = require("path");
const { waitForHttp, startFirefox, pageServer } = require("./e2e-common");

const firefox = process.env.FIREFOX || "/usr/bin/firefox-esr";
const cases = JSON.parse(process.env.ECHO_CASES);
const outDir = process.env.ECHO_OUT;
const caseTimeout = Number(process.env.ECHO_CASE_TIMEOUT_MS || 25000);
const httpPort = Number(process.env.ECHO_HTTP_PORT || 8090);
const pageHtml = fs.readFileSync(path.join(__dirname, "firefox-echo.html"));
const servePorts = new Set(cases.map(c => Number(c.port)));
const origin = "http://127.0.0.1:" + httpPort;

const log = (...a) => console.log("[firefox-echo]", ...a);
const caseUrl = c => `${origin}/page?case=${encodeURIComponent(c.name)}&serve=${c.port}&setup=${c.setup}&bundle=${c.bundle || "balanced"}&timeout=${caseTimeout}`;

const results = new Map();
let current = 0; // index of the case the running Firefox is on
let waiter = null; // resolves when the current case posts its result

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

// /serve/<port>/... goes to that serve; each result is answered with the URL of the next case.
const server = pageServer(http, origin, pageHtml,
  url => {
    const m = url.pathname.match(/^\/serve\/(\d+)(\/.*)$/);
    return m && servePorts.has(Number(m[1])) ? `http://127.0.0.1:${m[1]}${m[2]}${url.search}` : null;
  },
  body => ({ next: onResult(body) }),
  log);

// Runs one Firefox from case `from`; resolves when every case has a result or the current one timed out.
async function runFirefox(from, launch) {
  const ff = startFirefox(firefox, caseUrl(cases[from]), path.join(outDir, `firefox-${launch}.log`), (code, signal) => {
    log(`firefox ${launch} exited`, code, signal);
    if (waiter) { waiter(); }
  });
  current = from;
  try {
    for (;;) {
      const index = current;
      if (index >= cases.length || ff.exited()) { return; }
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
    await ff.stop();
  }
}

(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  try {
    await new Promise((resolve, reject) => { server.once("error", reject); server.listen(httpPort, "127.0.0.1", resolve); });
    for (const port of servePorts) {
      if (!await waitForHttp(`http://127.0.0.1:${port}/`, 30000)) { throw new Error(`airlift serve did not answer on 127.0.0.1:${port}`); }
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
