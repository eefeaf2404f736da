import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { CAM1, DAY_START, H, cleanupClickHouseDir, tempDir, toService } from '@haystack/detector/test-helpers';
import { openConsoleWorld, type ConsoleWorld } from './test-world.js';

/**
 * The console in a real browser: Debian's chromium, headless, driven over the DevTools
 * protocol (puppeteer-core, no bundled browser). Navigation, a chart drawn, the lookup refused
 * without signing in and answered after, the live page picking up new flows by its own
 * refresh (no script on the page), and no Content-Security-Policy violation anywhere.
 * HAYSTACK_SCREENSHOTS=DIR keeps a screenshot of each page (the README's come from here).
 */
after(cleanupClickHouseDir);
const tmp = tempDir('console-browser-');
after(tmp.cleanup);

function chromium(): string {
  const env = process.env.HAYSTACK_CHROMIUM;
  const names = env ? [env] : ['chromium', 'chromium-browser', 'google-chrome'];
  for (const n of names) {
    const paths = n.includes('/') ? [n] : (process.env.PATH ?? '').split(delimiter).map((d) => join(d, n));
    for (const p of paths) {
      try {
        accessSync(p, constants.X_OK);
        return p;
      } catch {
        /* next */
      }
    }
  }
  return assert.fail('chromium not found: apt-get install -y chromium (or set HAYSTACK_CHROMIUM)');
}

let w: ConsoleWorld;
let browser: Browser;
const violations: string[] = [];
const shots = process.env.HAYSTACK_SCREENSHOTS ? resolve(process.env.HAYSTACK_SCREENSHOTS) : null;

before(async () => {
  w = await openConsoleWorld(tmp.dir, { refreshSeconds: 5 });
  browser = await puppeteer.launch({
    executablePath: chromium(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions', `--user-data-dir=${join(tmp.dir, 'profile')}`],
  });
  if (shots) mkdirSync(shots, { recursive: true });
});
after(async () => {
  await browser?.close();
  await w?.close();
});

async function open(path: string): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 900 });
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(`${path}: ${m.text()}`);
  });
  const r = await page.goto(`${w.base}${path}`, { waitUntil: 'load' });
  assert.ok(r && r.status() < 400, `${path}: ${r?.status()}`);
  return page;
}
const shot = async (page: Page, name: string) => {
  if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
};

test('navigation: every page of the nav opens and shows its heading', async () => {
  const page = await open('/');
  const links = await page.$$eval('nav.top a', (as) => as.map((a) => a.getAttribute('href')));
  assert.deepEqual(links.slice(0, 8), ['/', '/trends', '/time-to-detection', '/hitlist', '/backends', '/quality', '/lookup', '/api/openapi.json']);
  for (const [href, heading] of [
    ['/trends', /^Trends/],
    ['/time-to-detection', /^Time to detection/],
    ['/hitlist', /^Hitlist/],
    ['/backends', /^Where the IoT traffic goes/],
    ['/quality', /^Data quality/],
  ] as const) {
    await Promise.all([page.waitForNavigation(), page.click(`nav.top a[href="${href}"]`)]);
    assert.match(await page.$eval('h1', (h) => h.textContent ?? ''), heading, href);
    if (href === '/quality') {
      // The day's stored health: both exporters, the NetFlow v9 gap and the sFlow samples lost marked.
      const rows = await page.$$eval('tr[data-exporter]', (trs) => trs.map((tr) => [tr.getAttribute('data-exporter'), tr.querySelectorAll('td.bad').length]));
      assert.deepEqual(rows, [
        ['192.0.2.1', 2],
        ['192.0.2.9', 3],
      ]);
      // Each loss in its own unit (NetFlow v9 packets, sFlow datagrams and samples), never added together.
      assert.equal(await page.$eval('[data-k="lost between exporters and collector"]', (d) => d.textContent), '30 packets · 12 datagrams · 12 sFlow samples');
      assert.deepEqual(await page.$$eval('tr[data-exporter] td .unit', (us) => us.map((u) => u.textContent)), ['packets', 'datagrams']);
    }
    await shot(page, href.slice(1));
  }
  await page.close();
});

test('trends: a line per class, the day without data a shaded gap, a visible title and legend', async () => {
  const page = await open('/trends?days=3');
  const box = await page.$eval('svg#chart-active', (s) => s.getBoundingClientRect().width);
  assert.ok(box > 300, `chart width ${box}`);
  // The range's first day holds nothing: the line starts on the second day, the first is shaded.
  const series = await page.$$eval('svg#chart-manufacturer g.series', (gs) =>
    gs.map((g) => [g.getAttribute('data-name'), [...g.querySelectorAll('polyline')].map((p) => p.getAttribute('points')?.split(' ').length)]),
  );
  assert.deepEqual(series, [['Acme', [2]]]);
  assert.equal(await page.$$eval('svg#chart-manufacturer rect.gap', (rs) => rs.length), 1);
  // Title and legend are drawn inside the chart, not only announced to screen readers.
  const seen = await page.$eval('svg#chart-manufacturer', (s) => {
    const r = s.getBoundingClientRect();
    const inside = (el: { getBoundingClientRect(): { width: number; left: number; right: number; top: number; bottom: number } } | null) => {
      if (!el) return false;
      const b = el.getBoundingClientRect();
      return b.width > 0 && b.left >= r.left - 1 && b.right <= r.right + 1 && b.top >= r.top - 1 && b.bottom <= r.bottom + 1;
    };
    return { title: inside(s.querySelector('.chart-title')), legend: inside(s.querySelector('g.legend')), text: s.querySelector('g.legend')?.textContent };
  });
  assert.deepEqual(seen, { title: true, legend: true, text: 'Acmeno data stored' });
  await page.close();
});

test('lookup: refused without signing in, answered after, and the audit log shows it', async () => {
  const page = await open('/lookup');
  assert.match(page.url(), /\/login\?next=%2Flookup$/, 'sent to sign in');
  await page.type('input[name=token]', 'a-wrong-token-that-is-long-enough');
  await Promise.all([page.waitForNavigation(), page.click('form button[type=submit]')]);
  assert.match(await page.$eval('.error', (e) => e.textContent ?? ''), /Unknown token/);
  await page.type('input[name=token]', w.token);
  await Promise.all([page.waitForNavigation(), page.click('form button[type=submit]')]);
  assert.match(page.url(), /\/lookup$/);
  await page.type('input[name=query]', '100.64.0.1');
  await Promise.all([page.waitForNavigation(), page.click('form.inline button[type=submit]')]);
  const rows = await page.$$eval('#lookup-results tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
  assert.ok(
    rows.some((r) => r[2] === 'acme-cam' && r[6] === 'cam1.acme.com'),
    JSON.stringify(rows),
  );
  const audit = await page.$$eval('h2 + table tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
  assert.ok(audit.some((a) => a.includes('admin') && a.includes('100.64.0.1')));
  await shot(page, 'lookup');
  await page.close();
});

test('live: today’s page refreshes itself and picks up lines as flows arrive', async () => {
  const page = await open('/');
  await shot(page, 'today');
  const active = () => page.$eval('#kpi-active .value', (v) => v.textContent ?? '');
  assert.equal(await active(), '4');
  await w.send([toService('100.64.0.7', CAM1, DAY_START + 12 * H), toService('100.64.0.8', CAM1, DAY_START + 12 * H)]);
  // No script and no reload from here: the page's own refresh must show the new lines.
  await page.waitForFunction(
    () =>
      (globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document.querySelector('#kpi-active .value')
        ?.textContent === '6',
    { timeout: 20_000 },
  );
  assert.equal(await active(), '6');
  await page.close();
});

test('no page broke its Content-Security-Policy (nothing inline, nothing fetched elsewhere)', () => {
  assert.deepEqual(violations, []);
});
