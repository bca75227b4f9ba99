// WHIP/WHEP through `airlift serve` with headless Chromium (run inside a network namespace with only loopback): one page
// publishes its fake camera with serve's own page (window.airlift.publish(), POST /whip), a second page watches
// (window.airlift.watch(), POST /whep), the watcher must decode video frames; then the publisher leaves (DELETE) and the
// viewer's session must end with "the publisher left". One case per DTLS role (?setup=passive|active on both pages).
// Env: PLAYWRIGHT_CORE, SERVE_URL (e.g. http://127.0.0.1:8083), ECHO_CASE_TIMEOUT_MS (default 25000).
// Prints one line per case: RESULT {"name", "ok", "error", "publisher", "viewer", "viewerAfterLeave"}; then DONE.
"use strict";
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const serve = process.env.SERVE_URL || "http://127.0.0.1:8083";
const caseTimeout = Number(process.env.ECHO_CASE_TIMEOUT_MS || 25000);
const sleep = ms => new Promise(r => setTimeout(r, ms));
const log = (...a) => console.log("[whip-whep]", ...a);

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

async function runCase(browser, setup) {
  const result = { name: "chromium-" + setup, ok: false, error: null, publisher: null, viewer: null, viewerAfterLeave: null };
  const context = await browser.newContext();
  try {
    const pub = await context.newPage();
    await pub.goto(`${serve}/?autostart=0&setup=${setup}`, { timeout: 10000 });
    await pub.evaluate(() => window.airlift.publish().then(() => null));
    result.publisher = (await until("publisher media reaching serve", async () => {
      const s = await pub.evaluate(() => window.airlift.broadcastStats("publish"));
      return { done: s && s.server && s.server.rtpIn > 50, s };
    }, caseTimeout)).s;

    const view = await context.newPage();
    await view.goto(`${serve}/?autostart=0&setup=${setup}`, { timeout: 10000 });
    await view.evaluate(() => window.airlift.watch().then(() => null));
    result.viewer = (await until("video decoded by the viewer", async () => {
      const s = await view.evaluate(() => window.airlift.broadcastStats("watch"));
      return { done: s && s.framesDecoded > 0, s };
    }, caseTimeout)).s;
    const viewerLocation = await view.evaluate(() => window.airlift.cast.watch.location);

    await pub.evaluate(() => window.airlift.leave("publish"));
    result.viewerAfterLeave = (await until("the viewer's session ended after the publisher left", async () => {
      const r = await fetch(serve + viewerLocation + "/stats");
      const s = r.ok ? await r.json() : { state: "gone " + r.status };
      return { done: s.state === "closed", s };
    }, 10000)).s;
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
  try {
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
    console.log("DONE");
  }
})();
