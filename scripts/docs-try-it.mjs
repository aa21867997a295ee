// Drives /docs in headless Chromium as a partner would: Authorize with a demo partner (OAuth 2.0
// client credentials through the page), "Try it out" on listRecruitingRequests, Execute, and wait
// for a 200 in the live response. Saves a screenshot. Run by tests/it/browser.rs:
//   node scripts/docs-try-it.mjs <gateway-url> <screenshot.png> <client_id> <client_secret>
// playwright-core is resolved from NODE_PATH (.ci/run installs it under target/browser).
import { createRequire } from "node:module";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");
const [gateway, shot, clientId, clientSecret] = process.argv.slice(2);

const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "docs-")), {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1200, height: 1400 },
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const outside = [];
try {
  const page = browser.pages()[0] || (await browser.newPage());
  page.setDefaultTimeout(20000);
  // Every request the page makes stays on the gateway's origin.
  page.on("request", (r) => { if (!r.url().startsWith(gateway)) outside.push(r.url()); });
  await page.goto(`${gateway}/docs/`);
  await page.locator(".btn.authorize").first().click();
  const oauth = page.locator(".auth-container").filter({ hasText: "clientCredentials" });
  await oauth.locator("#client_id_clientCredentials").fill(clientId);
  await oauth.locator("#client_secret_clientCredentials").fill(clientSecret);
  await page.locator('button[aria-label="Apply given OAuth2 credentials"]').click();
  // Authorized: the section offers "Logout" instead of "Authorize".
  await page.locator('button[aria-label="Remove authorization"]').waitFor();
  await page.locator(".modal-ux button.btn-done").first().click();
  const op = page.locator("#operations-recruiting-requests-listRecruitingRequests");
  await op.locator(".opblock-summary").click();
  // "Try it out" is on from the start (tryItOutEnabled in the page's config).
  await op.locator("button.execute").click();
  const status = op.locator(".live-responses-table tbody .response-col_status").first();
  await status.waitFor();
  const code = (await status.innerText()).trim();
  await op.scrollIntoViewIfNeeded();
  await page.screenshot({ path: shot });
  if (code !== "200") throw new Error(`Execute answered ${code}`);
  // The first Execute runs with what the page pre-filled: it must list something.
  const body = await op.locator(".live-responses-table .response-col_description pre").first().innerText();
  if (!/"data":\s*\[\s*\{/.test(body)) throw new Error(`Execute listed nothing: ${body.slice(0, 200)}`);
  if (outside.length) throw new Error(`requests left the gateway: ${outside.join(", ")}`);
  console.log(`docs try-it-out: ${code}`);
} finally {
  await browser.close();
}
