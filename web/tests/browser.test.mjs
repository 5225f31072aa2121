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
const launchArgs = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

// A page at a shifter's window width, recording script errors and console errors.
async function shifterPage(browser) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(`${page.url()}: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`${page.url()}: ${m.text()}`);
  });
  return { page, errors };
}

// Nothing wider than the window: the page never scrolls sideways.
async function assertFits(page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${page.url()} is ${overflow} px wider than 1280 px`);
}

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
    await page.waitForSelector("#job-list");
    await page.screenshot({ path: `${shots}/jobs.png` });

    const facet = page.locator('[data-field="jobstatus"] a[data-value="failed"]');
    assert.equal(await facet.count(), 1, "the jobstatus facet lists failed jobs");
    const failedCount = Number((await facet.locator("xpath=following-sibling::a[@class='count']").innerText()).replace(/\D/g, ""));
    assert.ok(failedCount > 0);
    await Promise.all([page.waitForURL(/jobstatus=failed/), facet.click()]);
    await page.waitForSelector("#attribute-summary");

    // The narrowed page: only failed jobs, as many as the facet said.
    const statuses = page.locator('[data-field="jobstatus"] a[data-value]');
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
      const statuses = page.locator('[data-field="status"] a[data-value]');
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

test("a shifter goes from the overview to a failing job's log and its task by clicking", async () => {
  assert.ok(base, "PANDAMON_URL must be set");
  const browser = await chromium.launch({ executablePath, args: launchArgs });
  try {
    const { page, errors } = await shifterPage(browser);
    // The landing page: the sites failing most, each failed count a link to those jobs.
    await page.goto(`${base}/?${query}`);
    await page.waitForSelector("#worst-sites");
    await assertFits(page);
    await page.screenshot({ path: `${shots}/path-1-overview.png`, fullPage: true });
    const site = await page.locator("#worst-sites tbody tr td:first-child a").first().innerText();
    const failedLink = page.locator("#worst-sites tbody tr").first().locator("a.st-failed");
    const failed = Number((await failedLink.innerText()).replace(/\D/g, ""));
    await Promise.all([page.waitForURL(/\/jobs\/.*jobstatus=failed/), failedLink.click()]);

    // The site's failed jobs: the conditions as chips, as many jobs as the overview said.
    await page.waitForSelector("#job-list");
    await assertFits(page);
    assert.equal(await page.locator('#selection .chip[data-param="computingsite"]').count(), 1);
    assert.equal(await page.locator('#selection .chip[data-param="jobstatus"]').count(), 1);
    assert.match(await page.locator("#selection").innerText(), new RegExp(site));
    const total = Number((await page.locator("main p.muted").first().innerText()).split(" jobs")[0].replace(/\D/g, ""));
    assert.equal(total, failed);
    const rows = await page.locator("#job-list tbody tr").count();
    assert.equal(await page.locator("#job-list tbody td.st-failed").count(), rows);
    await page.screenshot({ path: `${shots}/path-2-failed-jobs.png`, fullPage: true });

    // The biggest error code there: its jobs, each showing an error.
    const code = page.locator("#error-summary tbody tr").first().locator("td").first().locator("a");
    await Promise.all([page.waitForURL(/(errorcode|exitcode)=\d+/), code.click()]);
    await page.waitForSelector("#job-list");
    await assertFits(page);
    const errorCells = await page.locator("#job-list tbody td.error").allInnerTexts();
    const listedJobs = await page.locator("#job-list tbody tr").count();
    assert.ok(listedJobs > 0, "jobs with that error are listed");
    assert.equal(errorCells.filter((t) => /\w+:\d+/.test(t)).length, listedJobs, "every job listed shows its error");
    await page.screenshot({ path: `${shots}/path-3-error-jobs.png`, fullPage: true });
    const errorJobs = page.url();

    // One job (the first with a log tarball among the first five), its log links, the log's page.
    let jobUrl = null;
    for (let i = 0; i < Math.min(5, listedJobs); i++) {
      await page.goto(errorJobs);
      await Promise.all([page.waitForURL(/\/job\/\d+\//), page.locator("#job-list tbody tr a[href^='/job/']").nth(i).click()]);
      await page.waitForSelector("#job-attributes");
      if ((await page.locator("#job-logs a", { hasText: "logtarball" }).count()) === 1) {
        jobUrl = page.url();
        break;
      }
    }
    assert.ok(jobUrl, "one of the failing jobs links its log tarball");
    await assertFits(page);
    await page.screenshot({ path: `${shots}/path-4-job.png`, fullPage: true });
    await Promise.all([page.waitForURL(/\/file\//), page.locator("#job-logs a", { hasText: "logtarball" }).click()]);
    await page.waitForSelector("h1");
    assert.doesNotMatch(await page.locator("h1").innerText(), /not found/i);
    await page.screenshot({ path: `${shots}/path-5-log.png` });

    // Back to the job, then its task.
    await page.goto(jobUrl);
    const task = page.locator("#job-attributes a[href^='/task/']").first();
    assert.equal(await task.count(), 1, "the job links its task");
    await Promise.all([page.waitForURL(/\/task\/\d+\//), task.click()]);
    await page.waitForSelector("h1");
    await assertFits(page);
    await page.screenshot({ path: `${shots}/path-6-task.png`, fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test("every page fits 1280 px without script errors; errors are pages, not JSON", async () => {
  assert.ok(base, "PANDAMON_URL must be set");
  const browser = await chromium.launch({ executablePath, args: launchArgs });
  try {
    const { page, errors } = await shifterPage(browser);
    // Pages of the simulated window, and pages of the present.
    const pages = ["/", "/jobs/", "/errors/", "/dash/region/", "/dash/world/", "/dash/es/", "/sites/", "/users/",
      "/harvester/instances/", "/harvester/workers/"].map((p) => `${p}?${query}`)
      .concat(["/tasks/?days=3650", "/globalshares/", "/dc/dash/", "/status/", "/alerts/"]);
    for (const path of pages) {
      const response = await page.goto(`${base}${path}`);
      assert.equal(response.status(), 200, path);
      await page.waitForTimeout(200);
      await assertFits(page);
    }
    // Pages that need a parameter ask for it; bad input is a page with the navigation.
    for (const path of ["/files/", "/datasets/"]) {
      const response = await page.goto(`${base}${path}`);
      assert.equal(response.status(), 200, path);
      assert.ok(await page.locator("form.ask input").count(), `${path} asks what to look for`);
    }
    for (const [path, status] of [["/jobs/?jobstatus=nonsense&hours=x", 400], ["/job/1/", 404], ["/search/?q=no-such-thing-anywhere", 404]]) {
      const response = await page.goto(`${base}${path}`);
      assert.equal(response.status(), status, path);
      assert.match(response.headers()["content-type"], /text\/html/, path);
      assert.ok(await page.locator("header.top nav a").count(), `${path} has the navigation`);
      await assertFits(page);
    }
    assert.deepEqual(errors.filter((e) => !/status of (400|404)/.test(e)), []);
  } finally {
    await browser.close();
  }
});

test("a 5 000-task workflow is drawn with every task's status", async () => {
  assert.ok(base, "PANDAMON_URL must be set");
  const request = process.env.BIG_REQUEST;
  const tasks = Number(process.env.BIG_TASKS);
  assert.ok(request && tasks, "BIG_REQUEST and BIG_TASKS must be set");
  const browser = await chromium.launch({ executablePath, args: launchArgs });
  try {
    const { page, errors } = await shifterPage(browser);
    const started = Date.now();
    await page.goto(`${base}/idds/daggraph/?idds_request_id=${request}`);
    await page.waitForSelector("#dag[data-drawn]", { timeout: 60000 });
    console.log(`# dag of ${tasks} tasks drawn in ${Date.now() - started} ms`);
    await assertFits(page);
    assert.equal(Number(await page.locator("#dag").getAttribute("data-tasks")), tasks);
    // Every task is on the graph: a node of its own, or counted in a folded layer.
    const represented = await page.evaluate(() =>
      window.pandamonDag.nodes().map((n) => n.data("count")).reduce((a, b) => a + b, 0));
    assert.equal(represented, tasks);
    // Folded layers keep the graph small; a failed task wears the failed colour.
    const drawn = Number(await page.locator("#dag").getAttribute("data-drawn"));
    assert.ok(drawn < tasks, `uniform layers are folded: ${drawn} nodes drawn`);
    const failed = await page.evaluate(() =>
      window.pandamonDag.nodes().filter((n) => n.data("status") === "failed").map((n) => n.style("background-color")));
    assert.ok(failed.length > 0, "failed tasks are drawn");
    assert.ok(failed.every((c) => c.replace(/\s/g, "") === "rgb(201,48,44)"), `failed colour: ${failed[0]}`);
    // A click on a folded box unfolds its tasks; every task is still on the graph.
    const box = await page.evaluate(() => {
      const n = window.pandamonDag.nodes("[?folded]").first();
      return { id: n.id(), count: n.data("count") };
    });
    await page.evaluate((id) => window.pandamonDag.getElementById(id).emit("tap"), box.id);
    await page.waitForFunction((n) => Number(document.getElementById("dag").getAttribute("data-drawn")) === n,
      drawn + box.count - 1);
    assert.equal(await page.evaluate(() =>
      window.pandamonDag.nodes().map((n) => n.data("count")).reduce((a, b) => a + b, 0)), tasks);
    // The cycle in the data is marked, not looped over.
    assert.ok(await page.locator("p.warn", { hasText: "cycle" }).count(), "the cycle is reported");
    assert.equal(await page.evaluate(() => window.pandamonDag.edges("[?cycle]").length), 1);
    await page.screenshot({ path: `${shots}/idds-dag.png` });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
