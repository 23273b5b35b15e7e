// Browser flow for gatehouse's end-to-end suite, run by e2e/e2e_test.go
// once per proxy. Config comes as JSON in E2E_BROWSER_CONFIG:
//   { appURL, user, password, email, forbiddenUser, forbiddenPassword, userDataDir }
// It prints one JSON line: { ok, steps, error?, sessionCookies? } and exits
// non-zero on failure.
//
// Steps:
//  1. open appURL (with a query string) → redirected to the provider's form;
//  2. sign in → back on exactly appURL, the app shows our identity headers;
//  3. sign out → opening appURL asks for a login again;
//  4. a second, fresh context signs in as a user of a forbidden domain → 403.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const cfg = JSON.parse(process.env.E2E_BROWSER_CONFIG ?? '{}');
const steps = [];
const step = (s) => steps.push(s);
const STEP_TIMEOUT = 20000;

function fail(msg) {
  throw new Error(msg);
}

async function signIn(page, user, password) {
  await page.waitForURL((u) => u.pathname.startsWith('/login/username'), { timeout: STEP_TIMEOUT });
  await page.fill('#username', user);
  await page.fill('#password', password);
  await Promise.all([
    page.waitForURL((u) => u.href === cfg.appURL, { timeout: STEP_TIMEOUT, waitUntil: 'load' }),
    page.click('button[type=submit]'),
  ]);
}

async function echoed(page) {
  const text = await page.locator('body').innerText();
  try {
    return JSON.parse(text);
  } catch {
    fail(`page at ${page.url()} is not the echo app: ${text.slice(0, 300)}`);
  }
}

function header(echo, name) {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(echo.headers ?? {})) {
    if (k.toLowerCase() === want) return v;
  }
  return undefined;
}

async function main() {
  const app = new URL(cfg.appURL);
  const launchDir = cfg.userDataDir ?? fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'gh-e2e-chromium-'));
  const browser = await chromium.launchPersistentContext(launchDir, {
    executablePath: process.env.E2E_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    ignoreHTTPSErrors: true, // the suite's proxies use throwaway certificates
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run',
      // Every test host (*.localhost, the provider on localhost) is on 127.0.0.1.
      '--host-resolver-rules=MAP *.localhost 127.0.0.1, MAP localhost 127.0.0.1',
    ],
  });
  let sessionCookies = [];
  try {
    // 1 + 2: the login round trip, query string intact.
    const page = await browser.newPage();
    await page.goto(cfg.appURL, { timeout: STEP_TIMEOUT });
    step(`redirected to provider: ${new URL(page.url()).origin}${new URL(page.url()).pathname}`);
    await signIn(page, cfg.user, cfg.password);
    if (page.url() !== cfg.appURL) fail(`landed on ${page.url()}, want ${cfg.appURL}`);
    const echo = await echoed(page);
    if (echo.uri !== app.pathname + app.search) fail(`app saw URI ${echo.uri}, want ${app.pathname + app.search}`);
    const email = header(echo, 'X-Auth-Request-Email');
    if (!email || email.length !== 1 || email[0] !== cfg.email) fail(`app saw X-Auth-Request-Email ${JSON.stringify(email)}, want ["${cfg.email}"]`);
    step(`back on ${page.url()} as ${email[0]}`);
    sessionCookies = (await browser.cookies(app.origin)).map((c) => ({ name: c.name, value: c.value }));
    if (sessionCookies.length === 0) fail('no cookie for the app after login');

    // A reload still passes (the session cookie works on its own).
    await page.reload({ timeout: STEP_TIMEOUT });
    if (header(await echoed(page), 'X-Auth-Request-Email')?.[0] !== cfg.email) fail('reload lost the session');
    step('reload keeps the session');

    // 3: sign out, then the app asks for a login again.
    await page.goto(`${app.origin}/oauth2/sign_out?rd=${encodeURIComponent(cfg.appURL)}`, { timeout: STEP_TIMEOUT });
    step(`after sign-out: ${new URL(page.url()).origin}${new URL(page.url()).pathname}`);
    await page.goto(cfg.appURL, { timeout: STEP_TIMEOUT });
    await page.waitForURL((u) => u.pathname.startsWith('/login/username'), { timeout: STEP_TIMEOUT });
    step('signed out: opening the app asks for a login again');
    await page.close();
    await browser.close();

    // 4: a fresh browser (own profile), a user of a forbidden domain → 403.
    const dir2 = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'gh-e2e-chromium-'));
    const b2 = await chromium.launchPersistentContext(dir2, {
      executablePath: process.env.E2E_CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      ignoreHTTPSErrors: true,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run',
        '--host-resolver-rules=MAP *.localhost 127.0.0.1, MAP localhost 127.0.0.1',
      ],
    });
    try {
      const p2 = await b2.newPage();
      let lastStatus = 0;
      p2.on('response', (r) => {
        if (r.request().isNavigationRequest() && r.frame() === p2.mainFrame()) lastStatus = r.status();
      });
      await p2.goto(cfg.appURL, { timeout: STEP_TIMEOUT });
      await p2.waitForURL((u) => u.pathname.startsWith('/login/username'), { timeout: STEP_TIMEOUT });
      await p2.fill('#username', cfg.forbiddenUser);
      await p2.fill('#password', cfg.forbiddenPassword);
      // gatehouse may refuse at the callback or after the return to the app;
      // either way the page must be a 403 on the app's origin.
      await Promise.all([
        p2.waitForURL((u) => u.origin === app.origin && !u.pathname.startsWith('/login/'), { timeout: STEP_TIMEOUT, waitUntil: 'load' }),
        p2.click('button[type=submit]'),
      ]);
      if (lastStatus !== 403) fail(`forbidden user got ${lastStatus} at ${p2.url()}, want 403`);
      if ((await p2.locator('body').innerText()).includes('"headers"')) fail('forbidden user saw the app');
      step(`forbidden user: 403 at ${new URL(p2.url()).pathname}`);
      const again = await p2.goto(cfg.appURL, { timeout: STEP_TIMEOUT });
      if ((await p2.locator('body').innerText()).includes('"headers"')) fail('forbidden user saw the app on a second visit');
      step(`forbidden user, second visit: ${again.status()} at ${new URL(p2.url()).pathname}`);
    } finally {
      await b2.close();
      fs.rmSync(dir2, { recursive: true, force: true });
    }
  } finally {
    await browser.close().catch(() => {});
    if (!cfg.userDataDir) fs.rmSync(launchDir, { recursive: true, force: true });
  }
  return sessionCookies;
}

const watchdog = setTimeout(() => {
  console.log(JSON.stringify({ ok: false, steps, error: 'browser flow timed out' }));
  process.exit(2);
}, 120000);

try {
  const sessionCookies = await main();
  console.log(JSON.stringify({ ok: true, steps, sessionCookies }));
  clearTimeout(watchdog);
} catch (e) {
  console.log(JSON.stringify({ ok: false, steps, error: String(e?.stack ?? e) }));
  clearTimeout(watchdog);
  process.exitCode = 1;
}
