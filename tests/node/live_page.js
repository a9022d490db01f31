// Opens Tessera's live seat-map page (GET /v1/sessions/{id}/live) in headless Chromium (Debian's
// `chromium`, driven by playwright-core) and reports, as JSON lines on stdout:
//   {"event":"live", "seats": <seats drawn>}          once the page is connected and joined
//   {"event":"shown", "statuses": {seatId: status}}   once every seat in `expect` shows its status
// Options (one JSON argument): {url, expect: {seatId: status}, screenshot?, timeoutMs?, chromium?}.
// Exits non-zero with {"event":"error"} when the page does not get there in time.
"use strict";
const { chromium } = require("playwright-core");

async function main() {
  const o = JSON.parse(process.argv[2]);
  const timeout = o.timeoutMs || 60000;
  const browser = await chromium.launch({
    executablePath: o.chromium || process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const problems = [];
    page.on("pageerror", (e) => problems.push(String(e)));
    await page.goto(o.url, { timeout });
    await page.waitForSelector('#connection[data-state="live"]', { timeout });
    const seats = await page.locator(".seat").count();
    console.log(JSON.stringify({ event: "live", seats, problems }));
    const expected = o.expect;
    await page.waitForFunction(
      (want) => Object.entries(want).every(([id, status]) => {
        const el = document.querySelector(`.seat[data-seat-id="${id}"]`);
        return el && el.dataset.status === status;
      }),
      expected,
      { timeout, polling: 100 },
    );
    const statuses = await page.evaluate((ids) => Object.fromEntries(ids.map((id) => {
      const el = document.querySelector(`.seat[data-seat-id="${id}"]`);
      return [id, el ? el.dataset.status : null];
    })), Object.keys(expected));
    if (o.screenshot) await page.screenshot({ path: o.screenshot, fullPage: true });
    console.log(JSON.stringify({ event: "shown", statuses, problems }));
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.log(JSON.stringify({ event: "error", message: String(e && e.stack || e) }));
  process.exit(1);
});
