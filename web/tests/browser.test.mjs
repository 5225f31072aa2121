// Browser test: drives Debian's Chromium (headless) through playwright-core against a running
// pandamon. Started by crates/pandamon/tests/browser.rs with PANDAMON_URL, PANDAMON_QUERY and
// SCREENSHOT_DIR set.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const base = process.env.PANDAMON_URL;
const query = process.env.PANDAMON_QUERY ?? "";
const shots = process.env.SCREENSHOT_DIR ?? ".";
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";

test("a facet value narrows /jobs/ to that value", async () => {
  assert.ok(base, "PANDAMON_URL must be set");
  const browser = await chromium.launch({
    executablePath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${base}/jobs/?${query}`);
    // Server-rendered content is there; then the scripts enhance it.
    await page.waitForSelector("#attribute-summary");
    await page.waitForFunction(() => document.querySelectorAll("[data-drawn]").length >= 3);
    await page.waitForSelector("#job-list_wrapper, .dt-container");
    await page.screenshot({ path: `${shots}/jobs.png` });

    const facet = page.locator('[data-field="jobstatus"] a[data-value="failed"]');
    assert.equal(await facet.count(), 1, "the jobstatus facet lists failed jobs");
    const failedCount = Number((await facet.locator("xpath=following-sibling::span").innerText()).replace(/\D/g, ""));
    assert.ok(failedCount > 0);
    await Promise.all([page.waitForURL(/jobstatus=failed/), facet.click()]);
    await page.waitForSelector("#attribute-summary");

    // The narrowed page: only failed jobs, as many as the facet said.
    const statuses = page.locator('[data-field="jobstatus"] a');
    assert.equal(await statuses.count(), 1);
    assert.equal(await statuses.first().getAttribute("data-value"), "failed");
    const total = Number((await page.locator("main p.muted").first().innerText()).split(" jobs")[0].replace(/\D/g, ""));
    assert.equal(total, failedCount);
    const listed = await page.locator("#job-list tbody tr").count();
    assert.ok(listed > 0);
    assert.ok(await page.locator("#error-summary").count(), "failed jobs show the error summary");
    // Every failed job's status cell wears the failed colour, as the facet value does.
    assert.equal(await page.locator("#job-list tbody td.st-failed").count(), listed);
    assert.equal(await page.locator('[data-field="jobstatus"] a.st-failed').count(), 1);
    await page.screenshot({ path: `${shots}/jobs-failed.png`, fullPage: true });

    // A job link opens the job page.
    await Promise.all([page.waitForURL(/\/job\/\d+\//), page.locator("#job-list tbody tr a[href^='/job/']").first().click()]);
    await page.waitForSelector("#job-attributes");
    await page.screenshot({ path: `${shots}/job.png` });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test("a shifter goes from the Harvester instances to the jobs of a failed worker", async () => {
  assert.ok(base, "PANDAMON_URL must be set");
  const browser = await chromium.launch({
    executablePath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${base}/harvester/instances/?${query}`);
    await page.screenshot({ path: `${shots}/harvester-instances.png` });
    const instances = await page.locator("table.data tbody tr td:first-child a").allInnerTexts();
    assert.ok(instances.length >= 5, `instances listed: ${instances}`);
    let found = false;
    for (const instance of instances) {
      await page.goto(`${base}/harvester/instances/?${query}`);
      // The instance's workers.
      await Promise.all([
        page.waitForURL(/\/harvester\/workers\//),
        page.locator("table.data tbody tr td:first-child a", { hasText: new RegExp(`^${instance}$`) }).click(),
      ]);
      await page.waitForSelector("#attribute-summary");
      const failed = page.locator('[data-field="status"] a[data-value="failed"]');
      if ((await failed.count()) === 0) continue;
      // Its failed workers.
      await Promise.all([page.waitForURL(/status=failed/), failed.click()]);
      await page.waitForSelector("#worker-list");
      const statuses = page.locator('[data-field="status"] a');
      assert.equal(await statuses.count(), 1);
      assert.equal(await statuses.first().getAttribute("data-value"), "failed");
      // A failed worker that ran jobs (its njobs cell links to the worker).
      const rows = page.locator("#worker-list tbody tr");
      const n = await rows.count();
      const header = await page.locator("#worker-list thead th").allInnerTexts();
      const njobsColumn = header.indexOf("njobs");
      assert.ok(njobsColumn >= 0, `worker list columns: ${header}`);
      let row = null;
      for (let i = 0; i < n; i++) {
        const cell = rows.nth(i).locator("td").nth(njobsColumn);
        if (Number(await cell.innerText()) > 0) {
          row = rows.nth(i);
          break;
        }
      }
      if (row === null) continue;
      await page.screenshot({ path: `${shots}/harvester-failed-workers.png`, fullPage: true });
      await Promise.all([
        page.waitForURL(/\/harvester\/worker\/\d+\//),
        row.locator("a[href^='/harvester/worker/']").first().click(),
      ]);
      await page.waitForSelector("h1");
      assert.match(await page.locator("h1").innerText(), new RegExp(`Worker \\d+ of ${instance}`));
      await page.screenshot({ path: `${shots}/harvester-worker.png`, fullPage: true });
      // Its jobs, and one job's page.
      const job = page.locator("table.data a[href^='/job/']").first();
      assert.equal(await job.count(), 1, "the failed worker's page lists its jobs");
      await Promise.all([page.waitForURL(/\/job\/\d+\//), job.click()]);
      await page.waitForSelector("#job-attributes");
      await page.screenshot({ path: `${shots}/harvester-job.png` });
      found = true;
      break;
    }
    assert.ok(found, "no instance had a failed worker that ran jobs");
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
