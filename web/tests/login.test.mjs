// Login test: Chromium logs in to pandamon through a real OpenID Connect provider
// (tests/oidc-provider.mjs). Started by crates/pandamon/tests/login.rs with PANDAMON_URL, ISSUER,
// LOGIN_TIMEOUT_S and SCREENSHOT_DIR set.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const base = process.env.PANDAMON_URL;
const issuer = process.env.ISSUER;
const timeoutS = Number(process.env.LOGIN_TIMEOUT_S ?? 6);
const shots = process.env.SCREENSHOT_DIR ?? ".";
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const launchArgs = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

// The statuses pandamon answered, by path, so that a page reached through redirects can be
// checked for the status of each step.
function recordStatuses(page) {
  const statuses = [];
  page.on("response", (r) => {
    if (r.url().startsWith(base)) statuses.push([new URL(r.url()).pathname, r.status(), r.url()]);
  });
  return statuses;
}

// At the provider's development form: sign in as `login`, then consent if asked.
async function signInAtProvider(page, login, beforeSubmit) {
  await page.waitForURL((u) => u.href.startsWith(issuer));
  await page.fill("input[name=login]", login);
  await page.fill("input[name=password]", "any password");
  if (beforeSubmit) await beforeSubmit();
  await page.click("button[type=submit]");
  for (let i = 0; i < 3 && page.url().startsWith(issuer); i++) {
    const consent = page.locator("button:has-text('Continue')");
    try {
      await consent.waitFor({ timeout: 3000 });
      await consent.click();
    } catch {
      // Already on the way back to pandamon.
    }
    await page.waitForLoadState("load");
  }
  await page.waitForURL((u) => u.href.startsWith(base));
}

test("a user logs in through OpenID Connect, uses tokens and preferences, logs out", async () => {
  assert.ok(base && issuer, "PANDAMON_URL and ISSUER must be set");
  const browser = await chromium.launch({ executablePath, args: launchArgs });
  try {
    // The busiest simulated analysis user: the login the provider's form is given.
    const ask = await (await fetch(`${base}/user/?json`)).json();
    assert.ok(ask.length > 0, "the simulation has analysis users");
    const login = ask[0].replace(/ \([^)]*\)$/, "");

    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(`${page.url()}: ${e.message}`));

    // Anonymous: /user/ asks whose page; the navigation offers a login.
    await page.goto(`${base}/user/`);
    assert.equal(await page.locator("form.ask").count(), 1);
    await page.click("header .nav-user a:has-text('log in')");
    let callbackUrl = null;
    page.on("request", (r) => {
      if (r.url().startsWith(`${base}/login/callback/`)) callbackUrl = r.url();
    });
    let loginCookie = null;
    await signInAtProvider(page, login, async () => {
      loginCookie = (await context.cookies()).find((c) => c.name === "pandamon_login");
    });
    await page.waitForLoadState("load");

    // Back at pandamon: /user/ became the user's own page, with their panel.
    const own = `/user/${encodeURIComponent(login).replace(/%20/g, "%20")}/`;
    assert.equal(new URL(page.url()).pathname, new URL(`${base}${own}`).pathname, page.url());
    assert.ok(callbackUrl, "the provider sent the browser to /login/callback/");
    assert.ok(loginCookie, "the login set its state cookie");
    assert.ok(new URL(callbackUrl).searchParams.get("code"), "the callback carries a code");
    const navUser = await page.locator("header .nav-user").innerText();
    assert.ok(navUser.includes(`${login} (test)`), `the navigation names the user: ${navUser}`);
    assert.equal(await page.locator("#personal").count(), 1, "the own page has the personal panel");
    const session = (await context.cookies()).find((c) => c.name === "pandamon_session");
    assert.ok(session && session.httpOnly && session.sameSite === "Lax", "the session cookie is HttpOnly, SameSite=Lax");
    assert.ok(!(await context.cookies()).some((c) => c.name === "pandamon_login"), "the state cookie is gone");
    await page.screenshot({ path: `${shots}/login-own-page.png`, fullPage: true });

    // The callback cannot be replayed, even with the state cookie of that login.
    {
      const replay = await browser.newContext();
      await replay.addCookies([{ ...loginCookie }]);
      const p = await replay.newPage();
      const r = await p.goto(callbackUrl);
      assert.equal(r.status(), 401);
      assert.match(await p.locator("main, body").first().innerText(), /already used|replayed/);
      await replay.close();
    }

    // An API token, made on the page and shown once.
    await page.fill("#new-token input[name=label]", "my analysis script");
    await page.click("#new-token button[type=submit]");
    const token = (await page.locator("#new-token-value").innerText()).trim();
    assert.match(token, /^pm_[A-Za-z0-9_-]{40,}$/);
    // A script with the token is that user: /user/ sends it to their page.
    let r = await fetch(`${base}/user/?json`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200);
    assert.equal(new URL(r.url).pathname, new URL(`${base}${own}`).pathname);
    const mine = await r.json();
    assert.ok(Array.isArray(mine.mytasks), "the user's JSON");
    r = await fetch(`${base}/jobs/?json&hours=1`, { headers: { Authorization: "Bearer pm_not-a-token" } });
    assert.equal(r.status, 401);
    assert.match((await r.json()).error, /unknown or was revoked/);

    // Preferences: a 6-hour window and only the errors-by-code table.
    await page.goto(`${base}${own}`);
    await page.selectOption("#preferences select[name=default_hours]", "6");
    for (const box of await page.locator("#preferences input[name=errors_tables]").all()) {
      if ((await box.getAttribute("value")) !== "code") await box.uncheck();
    }
    await page.click("#preferences button[type=submit]");
    await page.waitForURL(`${base}${own}`);
    assert.equal(await page.locator("#preferences select[name=default_hours]").inputValue(), "6");
    for (let i = 0; i < 3; i++) await page.goto(`${base}/errors/`);
    assert.equal(await page.locator("#errors-by-count").count(), 1);
    assert.equal(await page.locator("#errors-by-site").count(), 0, "the preference hides errors by site");
    assert.equal(await page.locator("#tables-hidden").count(), 1, "the page says tables are hidden");
    assert.match(await page.locator(".selection").first().innerText(), /6 h/);
    // Someone else (anonymous) still sees every table at the same address.
    const anonymous = await (await fetch(`${base}/errors/`)).text();
    assert.ok(anonymous.includes('id="errors-by-site"'), "preferences stay the user's own");
    assert.ok(!anonymous.includes("nav-user\"><a href=\"/user/"), "nobody else is shown as logged in");

    // Most relevant links: the pages the user opened most.
    await page.goto(`${base}${own}`);
    await page.waitForTimeout(300);
    await page.reload();
    const links = await page.locator("#relevant-links a").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
    assert.equal(links[0], "/errors/", `most visited first: ${links}`);

    // Revoking the token: the script is refused from then on.
    await page.click("#api-tokens button:has-text('revoke')");
    await page.waitForURL(`${base}${own}`);
    assert.match(await page.locator("#api-tokens").innerText(), /revoked/);
    r = await fetch(`${base}/user/?json`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(r.status, 401);

    // Logout ends the session: the old cookie opens nothing any more.
    const before = (await context.cookies()).find((c) => c.name === "pandamon_session");
    await page.click("header .nav-user button:has-text('log out')");
    await page.waitForURL(`${base}/`);
    assert.equal(await page.locator("header .nav-user a:has-text('log in')").count(), 1);
    await context.addCookies([{ ...before }]);
    await page.goto(`${base}/user/`);
    assert.equal(await page.locator("form.ask").count(), 1, "the ended session is anonymous");

    // A session cookie pandamon did not sign: 401 with a page, and the cookie is cleared.
    const forged = before.value.slice(0, -2) + (before.value.endsWith("AA") ? "BB" : "AA");
    await context.addCookies([{ ...before, value: forged }]);
    r = await page.goto(`${base}/jobs/`);
    assert.equal(r.status(), 401);
    assert.match(await page.locator("body").innerText(), /not one pandamon signed/);
    assert.equal(await page.locator("header nav a").count() > 0, true, "the 401 page has the navigation");
    assert.ok(!(await context.cookies()).some((c) => c.name === "pandamon_session"), "the forged cookie is cleared");

    // A forged state: refused.
    r = await page.goto(`${base}/login/callback/?code=abc&state=forged`);
    assert.equal(r.status(), 401);
    assert.match(await page.locator("body").innerText(), /not started from this browser/);

    // A login that stays too long at the provider (a fresh browser: no session there yet):
    // its state expires.
    {
      const late = await browser.newContext();
      const p = await late.newPage();
      const seen = recordStatuses(p);
      await p.goto(`${base}/login/?next=/jobs/`);
      await signInAtProvider(p, login, () => p.waitForTimeout((timeoutS + 1) * 1000));
      const last = seen.filter(([path]) => path === "/login/callback/").pop();
      assert.equal(last?.[1], 401, `an expired login is refused: ${last}`);
      assert.match(await p.locator("body").innerText(), /expired/);
      assert.ok(!(await late.cookies()).some((c) => c.name === "pandamon_session"), "no session");
      await late.close();
    }

    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await browser.close();
  }
});
