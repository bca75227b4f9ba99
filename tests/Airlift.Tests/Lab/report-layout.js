// Renders HTML reports (airlift lab, airlift doctor) in headless Chromium and checks their layout in the page.
// Env: PLAYWRIGHT_CORE (path of the playwright-core package), REPORT_FILES (JSON [{name, path}] of .html files),
//      REPORT_OUT (screenshot directory), REPORT_WIDTH (viewport width, default 1280).
// Prints one line per report: RESULT {"name", "problems": [...], "screenshot", "sections", "charts", "legendItems"},
// then DONE. A problem is one readable sentence naming the element; the caller fails on any.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const files = JSON.parse(process.env.REPORT_FILES);
const outDir = process.env.REPORT_OUT;
const width = Number(process.env.REPORT_WIDTH || 1280);
const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--remote-debugging-pipe"];

// Runs in the page. Every check is generic (no knowledge of the lab's markup beyond the shared report shell's class
// names legend-item and series), so the doctor's report is checked by the same code.
function checkLayout() {
  const problems = [];
  const describe = el => {
    const text = (el.textContent || "").trim().replace(/\s+/g, " ");
    const id = el.id ? "#" + el.id : "";
    const cls = typeof el.className === "string" && el.className ? "." + el.className.split(" ").join(".") : "";
    return `<${el.tagName.toLowerCase()}${id}${cls}> "${text.length > 60 ? text.slice(0, 60) + "..." : text}"`;
  };

  // 1. The page itself does not scroll sideways.
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth + 1) {
    problems.push(`page is ${doc.scrollWidth}px wide in a ${window.innerWidth}px window (horizontal scrolling)`);
  }

  // 2. No HTML element's text overflows its box (a box that clips or spills its own text).
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest("svg")) { continue; }
    const style = getComputedStyle(el);
    if (style.display === "inline" || style.display === "none" || style.display === "contents") { continue; }
    const ownText = Array.from(el.childNodes).some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim().length > 0);
    if (!ownText) { continue; }
    if (el.scrollWidth > el.clientWidth + 1) {
      problems.push(`text overflows its box (${el.scrollWidth}px in ${el.clientWidth}px): ${describe(el)}`);
    }
    const r = el.getBoundingClientRect();
    if (r.right > doc.clientWidth + 1) {
      problems.push(`text runs past the right edge of the page (${Math.round(r.right)}px > ${doc.clientWidth}px): ${describe(el)}`);
    }
  }

  // 3. Every SVG text lies inside its SVG (viewBox edges), legend entries do not overlap, series are told apart.
  const charts = Array.from(document.querySelectorAll("svg"));
  let legendItems = 0;
  charts.forEach((svg, i) => {
    const title = (svg.querySelector("title") || {}).textContent || `chart ${i + 1}`;
    const box = svg.getBoundingClientRect();
    for (const t of svg.querySelectorAll("text")) {
      if (!t.textContent.trim()) { continue; }
      const r = t.getBoundingClientRect();
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5) {
        problems.push(`SVG text cut off at the edge of "${title}": "${t.textContent}" spans x ${Math.round(r.left - box.left)}..${Math.round(r.right - box.left)} y ${Math.round(r.top - box.top)}..${Math.round(r.bottom - box.top)} in ${Math.round(box.width)}x${Math.round(box.height)}`);
      }
    }
    const items = Array.from(svg.querySelectorAll(".legend-item")).map(g => ({ g, r: g.getBoundingClientRect() }));
    legendItems += items.length;
    for (let a = 0; a < items.length; a++) {
      for (let b = a + 1; b < items.length; b++) {
        const p = items[a].r, q = items[b].r;
        if (p.left < q.right - 0.5 && q.left < p.right - 0.5 && p.top < q.bottom - 0.5 && q.top < p.bottom - 0.5) {
          problems.push(`legend entries overlap in "${title}": "${items[a].g.textContent}" and "${items[b].g.textContent}"`);
        }
      }
    }
    // Lines of one chart: each (colour, dash) pair at most once, so no two series look alike.
    const seen = new Map();
    for (const line of svg.querySelectorAll("polyline")) {
      const key = (line.getAttribute("stroke") || "") + " / " + (line.getAttribute("stroke-dasharray") || "solid");
      const label = line.getAttribute("data-series") || "(unnamed series)";
      if (seen.has(key)) {
        problems.push(`two series share colour and dash ${key} in "${title}": ${seen.get(key)} and ${label}`);
      } else {
        seen.set(key, label);
      }
    }
    // Every series has a legend entry (or direct label) naming it.
    for (const line of svg.querySelectorAll("polyline[data-series]")) {
      const name = line.getAttribute("data-series");
      const named = Array.from(svg.querySelectorAll("text")).some(t => t.textContent === name || (t.closest("g") && t.closest("g").querySelector("title") && t.closest("g").querySelector("title").textContent === name));
      if (!named) { problems.push(`series "${name}" has no legend entry in "${title}"`); }
    }
  });

  // 4. No empty section: every h2 is followed by content before the next h2; no table without rows; no vacuous "0/0".
  const headings = Array.from(document.querySelectorAll("h2"));
  for (const h of headings) {
    let content = false;
    for (let n = h.nextElementSibling; n && n.tagName !== "H2"; n = n.nextElementSibling) {
      if ((n.textContent || "").trim().length > 0 || n.querySelector("svg") || n.tagName === "svg") { content = true; break; }
    }
    if (!content) { problems.push(`empty section: ${describe(h)}`); }
  }
  for (const table of document.querySelectorAll("table")) {
    if (table.querySelectorAll("tbody tr").length === 0) {
      problems.push(`table without rows: ${describe(table.querySelector("tr") || table)}`);
    }
  }
  const vacuous = document.body.innerText.match(/[^\n]*\b0\/0\b[^\n]*/);
  if (vacuous) { problems.push(`vacuous count "0/0": "${vacuous[0].trim()}"`); }

  return { problems, sections: headings.map(h => h.textContent.trim()), charts: charts.length, legendItems };
}

(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlift-report-layout-"));
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      ignoreDefaultArgs: true,
      args: [...flags, "--user-data-dir=" + userDataDir],
      timeout: 30000,
    });
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const page = await context.newPage();
    for (const f of files) {
      const result = { name: f.name, problems: [], screenshot: null };
      try {
        await page.goto("file://" + f.path, { waitUntil: "load", timeout: 20000 });
        Object.assign(result, await page.evaluate(checkLayout));
        result.screenshot = path.join(outDir, f.name + ".png");
        await page.screenshot({ path: result.screenshot, fullPage: true });
      } catch (e) {
        result.problems.push("could not render: " + String(e && e.message || e));
      }
      console.log("RESULT " + JSON.stringify(result));
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
