// Drives headless Chromium against `airlift serve` pages (run inside a network namespace with only loopback).
// Env: PLAYWRIGHT_CORE (path of the playwright-core package), ECHO_CASES (JSON [{name, url}]), ECHO_OUT (screenshot dir),
//      ECHO_CASE_TIMEOUT_MS (per case, default 25000).
// Prints one line per case: RESULT {"name", "ok", "error", "ms", "screenshot", "browser", "server", "closed"}; then DONE.
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
  "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns", "--remote-debugging-pipe",
];

const log = (...a) => console.log("[chromium-echo]", ...a);
const sleep = ms => new Promise(r => setTimeout(r, ms));

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
  const result = { name: c.name, ok: false, error: null, ms: null, screenshot: null, browser: null, server: null, closed: null };
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
      return a && (a.error || (a.browser && a.browser.framesDecoded > 0 && a.stats && a.stats.dtls && a.stats.dtls.state === "Connected"));
    }, null, { timeout: caseTimeout, polling: 200 });
    result.ms = Date.now() - started;
    // Let the table refresh once more with the echo running, then keep the picture.
    await sleep(1500);
    result.screenshot = path.join(outDir, c.name + ".png");
    await page.screenshot({ path: result.screenshot, fullPage: true });
    const state = await page.evaluate(async () => {
      const a = window.airlift;
      a.browser = await a.browserStats();
      const server = a.location ? await (await fetch(a.location + "/stats?trace=1", { cache: "no-store" })).json() : null;
      return { error: a.error, browser: a.browser, server, location: a.location };
    });
    result.error = state.error;
    result.browser = state.browser;
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
      result.screenshot = path.join(outDir, c.name + "-failed.png");
      await page.screenshot({ path: result.screenshot, fullPage: true });
      const a = await page.evaluate(async () => { const a = window.airlift || {}; const server = a.location ? await (await fetch(a.location + "/stats?trace=1")).json() : null; return { error: a.error, browser: a.browser, server }; });
      result.browser = a.browser;
      result.server = a.server;
      result.error += a.error ? " / page: " + a.error : "";
    } catch { /* best effort */ }
  } finally {
    await context.close();
  }
  return result;
}

(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlift-chromium-"));
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      ignoreDefaultArgs: true,
      args: [...flags, "--user-data-dir=" + userDataDir],
      timeout: 30000,
    });
    log("browser", browser.version());
    for (const c of cases) {
      const r = await runCase(browser, c);
      console.log("RESULT " + JSON.stringify(r));
    }
  } catch (e) {
    console.log("FATAL " + String(e && e.stack || e));
    process.exitCode = 1;
  } finally {
    if (browser) { await browser.close().catch(() => {}); }
    fs.rmSync(userDataDir, { recursive: true, force: true });
    console.log("DONE");
  }
})();
