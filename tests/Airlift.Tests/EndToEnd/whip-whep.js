// WHIP/WHEP through `airlift serve` with headless Chromium (run inside a network namespace with only loopback): one page
// publishes its fake camera with serve's own page (window.airlift.publish(), POST /whip), a second page watches
// (window.airlift.watch(), POST /whep), the watcher must decode video frames; then the publisher leaves (DELETE) and the
// viewer's session must end with "the publisher left". One case per DTLS role (?setup=passive|active on both pages).
// Env: PLAYWRIGHT_CORE, SERVE_URL (e.g. http://127.0.0.1:8083), ECHO_CASE_TIMEOUT_MS (default 25000).
// Prints one line per case: RESULT {"name", "ok", "error", "publisher", "viewer", "viewerAfterLeave"}; then DONE.
"use strict";
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
const { until, publish, runWhipCases } = require("./e2e-common");

const serve = process.env.SERVE_URL || "http://127.0.0.1:8083";
const caseTimeout = Number(process.env.ECHO_CASE_TIMEOUT_MS || 25000);
const log = (...a) => console.log("[whip-whep]", ...a);

async function runCase(browser, setup) {
  const result = { name: "chromium-" + setup, ok: false, error: null, publisher: null, viewer: null, viewerAfterLeave: null };
  const context = await browser.newContext();
  try {
    const pub = await publish(context, serve, setup, caseTimeout);
    result.publisher = pub.stats;

    const view = await context.newPage();
    await view.goto(`${serve}/?autostart=0&setup=${setup}`, { timeout: 10000 });
    await view.evaluate(() => window.airlift.watch().then(() => null));
    result.viewer = (await until("video decoded by the viewer", async () => {
      const s = await view.evaluate(() => window.airlift.broadcastStats("watch"));
      return { done: s && s.framesDecoded > 0, s };
    }, caseTimeout)).s;
    const viewerLocation = await view.evaluate(() => window.airlift.cast.watch.location);

    await pub.page.evaluate(() => window.airlift.leave("publish"));
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

runWhipCases(chromium, serve, runCase, log);
