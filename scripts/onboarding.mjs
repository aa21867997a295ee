// Drives the invite page in headless Chromium as an invited partner would. Run by
// tests/it/onboarding_browser.rs:
//   node scripts/onboarding.mjs <invite-url> <invite-url-nb> <expired-url> <screenshot-dir>
// 1280 px, English: the invite (nothing revealed), reveal with the keyboard, copy, Test my
// connection (HTTP 200), reload (nothing revealed). 360 px, Norwegian: the same flow, no sideways
// scrolling. The expired link says so. Prints one JSON line with what it saw.
import { createRequire } from "node:module";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");
const [inviteUrl, inviteNb, expiredUrl, dir] = process.argv.slice(2);
const origin = new URL(inviteUrl).origin;

const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "onboarding-")), {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
await browser.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
const seen = { outside: [] };
const secretIn = (text) => /atsgw_[A-Za-z0-9_-]{20,}/.test(text);

async function flow(page, url, lang, shotPrefix) {
  page.on("request", (r) => { if (!r.url().startsWith(origin)) seen.outside.push(r.url()); });
  await page.setExtraHTTPHeaders({ "Accept-Language": lang });
  const first = await page.goto(url);
  const out = { get_status: first.status() };
  out.get_reveals = secretIn(await page.content());
  await page.screenshot({ path: join(dir, `${shotPrefix}-invite.png`), fullPage: true });
  // Keyboard only: Tab to the button, Enter submits the form (a POST, no script needed).
  let focused = "";
  for (let i = 0; i < 20 && focused !== "reveal"; i++) {
    await page.keyboard.press("Tab");
    focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  }
  out.reveal_by_keyboard = focused === "reveal";
  out.focus_outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  const html = await page.content();
  out.revealed = secretIn(html);
  out.client_id = await page.locator("#client-id").inputValue();
  await page.locator('button[data-copy="client-secret"]').click();
  out.copied = (await page.evaluate(() => navigator.clipboard.readText())).startsWith("atsgw_");
  await page.locator("#test").click();
  await page.locator("#test-status").waitFor({ timeout: 20000 });
  out.test = await page.locator("#test-status").innerText();
  out.scroll_width = await page.evaluate(() => document.documentElement.scrollWidth);
  await page.screenshot({ path: join(dir, `${shotPrefix}-revealed.png`), fullPage: true });
  const again = await page.goto(url);
  out.reload_status = again.status();
  out.reload_reveals = secretIn(await page.content());
  return out;
}

try {
  const page = browser.pages()[0] || (await browser.newPage());
  page.setDefaultTimeout(20000);
  seen.en = await flow(page, inviteUrl, "en-GB,en;q=0.8", "onboarding-1280");
  await page.setViewportSize({ width: 360, height: 780 });
  seen.nb = await flow(page, inviteNb, "nb-NO,nb;q=0.9", "onboarding-360");
  const expired = await page.goto(expiredUrl);
  seen.expired_status = expired.status();
  seen.expired_reveals = secretIn(await page.content());
  seen.expired_text = await page.locator("h1").innerText();
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
