// Designed pages through a proxy, run by e2e/pages_test.go once per proxy.
// Config comes as JSON in E2E_PAGES_CONFIG:
//   { proxy, outDir, origin, appURL, user, password, email,
//     forbiddenUser, forbiddenPassword, forbiddenEmail,
//     storeDownOrigin, gatehouseDownOrigin? }
// It prints one JSON line: { ok, pages: [{ name, status, shots, violations }], error? }
// and exits non-zero on failure.
//
// Every page is reached the way a person reaches it, through the proxy:
// sign-in, sign-in failed (a forged callback), the sign-out confirmation (a
// sign-out link on another site), signed out, forbidden (bob, of a domain
// the policy refuses, naming his account), a deny rule, session store
// unavailable (a second proxy whose gatehouse has no Redis, with alice's
// cookie) and, for nginx, gatehouse unreachable (the shipped static page).
// Each is shot light and dark, 1280 and 390 px wide, and checked by
// axe-core in both colour schemes: any violation fails the run. A page
// that loads anything from anywhere (no request but the page itself may
// happen) or carries a script fails too.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const cfg = JSON.parse(process.env.E2E_PAGES_CONFIG ?? '{}');
const TIMEOUT = 20000;
const results = [];

function fail(msg) {
  throw new Error(msg);
}

async function signIn(page, user, password) {
  await page.waitForURL((u) => u.pathname.startsWith('/login/username'), { timeout: TIMEOUT });
  await page.fill('#username', user);
  await page.fill('#password', password);
  await Promise.all([
    page.waitForURL((u) => !u.pathname.startsWith('/login/'), { timeout: TIMEOUT, waitUntil: 'load' }),
    page.click('button[type=submit]'),
  ]);
}

// watch records the status of the page's last main-frame navigation and
// every request that is not that navigation.
function watch(page) {
  const w = { status: 0, extra: [] };
  page.on('response', (r) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) w.status = r.status();
  });
  page.on('request', (r) => {
    if (!r.isNavigationRequest()) w.extra.push(r.url());
  });
  return w;
}

// capture checks the page now shown: its status, that it is one of the
// designed pages (lang, landmarks, no script, nothing loaded), then shoots
// it in both schemes and widths and runs axe-core in both schemes.
async function capture(page, w, name, wantStatus, wantText) {
  await page.waitForLoadState('load');
  if (w.status !== wantStatus) fail(`${name}: status ${w.status} at ${page.url()}, want ${wantStatus}`);
  const facts = await page.evaluate(() => ({
    lang: document.documentElement.lang,
    scripts: document.scripts.length,
    main: document.querySelectorAll('main').length,
    h1: document.querySelector('h1')?.textContent ?? '',
    text: document.body.innerText,
  }));
  if (facts.lang !== 'en' || facts.scripts !== 0 || facts.main !== 1 || !facts.h1) {
    fail(`${name}: not a designed page (lang=${facts.lang}, scripts=${facts.scripts}, main=${facts.main}, h1=${facts.h1}) at ${page.url()}`);
  }
  for (const t of wantText) {
    if (!facts.text.includes(t)) fail(`${name}: page does not say ${JSON.stringify(t)}: ${facts.text.slice(0, 400)}`);
  }
  if (w.extra.length) fail(`${name}: the page loaded ${w.extra.join(', ')}`);

  const shots = [];
  const violations = [];
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: width === 390 ? 844 : 800 });
      const file = path.join(cfg.outDir, `${cfg.proxy}-${name}-${scheme}-${width}.png`);
      await page.screenshot({ path: file, fullPage: true });
      shots.push(path.basename(file));
    }
    await page.setViewportSize({ width: 1280, height: 800 });
    if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) {
      await page.addScriptTag({ content: axeSource });
    }
    const res = await page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ['violations'] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
    });
    for (const v of res) violations.push({ scheme, ...v });
  }
  await page.emulateMedia({ colorScheme: 'light' });
  results.push({ name, status: w.status, url: page.url(), h1: facts.h1, shots, violations });
  if (violations.length) fail(`${name}: axe-core violations: ${JSON.stringify(violations)}`);
}

async function newContext(browser) {
  // bypassCSP only so that axe-core can be injected: the pages' own CSP
  // allows no script at all.
  return browser.newContext({ ignoreHTTPSErrors: true, bypassCSP: true });
}

async function main() {
  fs.mkdirSync(cfg.outDir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.E2E_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run',
      '--host-resolver-rules=MAP *.localhost 127.0.0.1, MAP localhost 127.0.0.1',
    ],
  });
  try {
    const ctx = await newContext(browser);
    const enc = encodeURIComponent;

    // Sign-in: the provider choice (one provider here).
    let page = await ctx.newPage();
    let w = watch(page);
    await page.goto(`${cfg.origin}/oauth2/sign_in?rd=${enc(cfg.appURL)}`, { timeout: TIMEOUT });
    await capture(page, w, 'sign-in', 200, ['Sign in to continue', 'Continue with']);
    await page.close();

    // Sign-in failed: a callback this browser never started.
    page = await ctx.newPage();
    w = watch(page);
    await page.goto(`${cfg.origin}/oauth2/callback?state=forged&code=forged`, { timeout: TIMEOUT });
    await capture(page, w, 'sign-in-failed', 400, ['Sign-in failed', 'missing_login_cookie']);
    await page.close();

    // alice signs in.
    page = await ctx.newPage();
    await page.goto(cfg.appURL, { timeout: TIMEOUT });
    await signIn(page, cfg.user, cfg.password);
    if (!page.url().startsWith(cfg.origin)) fail(`alice landed on ${page.url()}`);
    await page.close();

    // A deny rule: no account switch offered.
    page = await ctx.newPage();
    w = watch(page);
    await page.goto(`${cfg.origin}/internal/settings`, { timeout: TIMEOUT });
    await capture(page, w, 'denied-by-rule', 403, ['Access denied', 'cannot be reached']);
    await page.close();

    // Session store unavailable: the same host on another port, whose
    // gatehouse has no Redis; alice's cookie goes there too.
    page = await ctx.newPage();
    w = watch(page);
    await page.goto(`${cfg.storeDownOrigin}/projects?tab=1`, { timeout: TIMEOUT });
    await capture(page, w, 'store-unavailable', 503, ['Please try again in a moment', 'store_unavailable']);
    await page.close();

    // The sign-out confirmation: a sign-out link followed from another site.
    page = await ctx.newPage();
    await page.setContent(`<a id="go" href="${cfg.origin}/oauth2/sign_out?rd=${enc(cfg.appURL)}">sign out</a>`);
    w = watch(page);
    await Promise.all([page.waitForURL((u) => u.pathname === '/oauth2/sign_out', { timeout: TIMEOUT }), page.click('#go')]);
    await capture(page, w, 'sign-out-confirm', 200, ['Sign out?', 'Stay signed in']);
    await page.close();

    // Sign out (typed URL), then the signed-out page.
    page = await ctx.newPage();
    await page.goto(`${cfg.origin}/oauth2/sign_out?rd=${enc(cfg.appURL)}`, { timeout: TIMEOUT });
    w = watch(page);
    await page.goto(`${cfg.origin}/oauth2/signed_out?rd=${enc(cfg.appURL)}`, { timeout: TIMEOUT });
    await capture(page, w, 'signed-out', 200, ['You are signed out', 'Sign in again']);
    await page.close();
    await ctx.close();

    // Forbidden: bob signs in, his domain is refused; the page names him.
    const ctx2 = await newContext(browser);
    page = await ctx2.newPage();
    w = watch(page);
    await page.goto(cfg.appURL, { timeout: TIMEOUT });
    await signIn(page, cfg.forbiddenUser, cfg.forbiddenPassword);
    await capture(page, w, 'forbidden', 403, ['Access denied', `You are signed in as ${cfg.forbiddenEmail}`, 'Use another account']);
    const sw = await page.getAttribute('a.button', 'href');
    if (sw !== `${cfg.origin}/oauth2/sign_out?rd=${enc(cfg.appURL)}`) fail(`forbidden: "use another account" goes to ${sw}`);
    await page.close();
    await ctx2.close();

    // gatehouse unreachable (nginx): the static page shipped in deploy/nginx.
    if (cfg.gatehouseDownOrigin) {
      const ctx3 = await newContext(browser);
      page = await ctx3.newPage();
      w = watch(page);
      await page.goto(`${cfg.gatehouseDownOrigin}/projects`, { timeout: TIMEOUT });
      await capture(page, w, 'gatehouse-unavailable', 503, ['Please try again in a moment', 'gatehouse_unavailable']);
      await page.close();
      await ctx3.close();
    }
  } finally {
    await browser.close().catch(() => {});
  }
}

main().then(
  () => console.log(JSON.stringify({ ok: true, pages: results })),
  (err) => {
    console.log(JSON.stringify({ ok: false, pages: results, error: String(err?.stack ?? err) }));
    process.exit(1);
  },
);
