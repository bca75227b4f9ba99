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
const path = require("path");
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
const { sleep, until, startFirefox, pageServer, publish, runWhipCases } = require("./e2e-common");

const firefox = process.env.FIREFOX || "/usr/bin/firefox-esr";
const serve = process.env.SERVE_URL || "http://127.0.0.1:8084";
const outDir = process.env.ECHO_OUT;
const caseTimeout = Number(process.env.ECHO_CASE_TIMEOUT_MS || 25000);
const httpPort = Number(process.env.ECHO_HTTP_PORT || 8091);
const origin = "http://127.0.0.1:" + httpPort;
const pageHtml = fs.readFileSync(path.join(__dirname, "firefox-whep.html"));
const log = (...a) => console.log("[whip-whep-firefox]", ...a);

let waiter = null;

// /serve/... goes to serve; the page posts its one result.
const server = pageServer(http, origin, pageHtml,
  url => url.pathname.startsWith("/serve/") ? serve + url.pathname.slice("/serve".length) + url.search : null,
  body => { if (waiter) { waiter(JSON.parse(body)); } },
  log);

// One Firefox per case: resolves with the page's result, or a failure when none came in time.
async function watchWithFirefox(name, setup, whep) {
  const url = `${origin}/page?case=${encodeURIComponent(name)}&whep=${encodeURIComponent(whep)}&setup=${setup}&timeout=${caseTimeout}`;
  const ff = startFirefox(firefox, url, path.join(outDir, `firefox-whep-${name}.log`));
  try {
    return await new Promise(resolve => {
      const t = setTimeout(() => resolve({ ok: false, error: `no result from Firefox within ${caseTimeout + 20000} ms (see firefox-whep-${name}.log)` }), caseTimeout + 20000);
      waiter = r => { clearTimeout(t); resolve(r); };
    });
  } finally {
    waiter = null;
    await ff.stop();
  }
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
    const { page: pub, stats, publishedAt } = await publish(context, serve, setup, caseTimeout);
    result.publisher = stats;
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

fs.mkdirSync(outDir, { recursive: true });
runWhipCases(chromium, serve, runCase, log,
  () => new Promise((resolve, reject) => { server.once("error", reject); server.listen(httpPort, "127.0.0.1", resolve); }),
  () => server.close());
