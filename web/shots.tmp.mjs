import { chromium } from "playwright-core";
const base = process.env.BASE;
const pages = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const errors = [];
page.on("pageerror", (e) => errors.push(e.message));
page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
for (const [i, p] of pages.entries()) {
  const r = await page.goto(base + p);
  await page.waitForTimeout(800);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  console.log(p, r.status(), r.headers()["content-type"], "overflow", overflow);
  await page.screenshot({ path: `/tmp/shots/${i}.png` });
}
console.log("errors", JSON.stringify(errors));
await browser.close();
