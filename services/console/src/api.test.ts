import { after, before, test } from 'node:test';
import { Ajv } from 'ajv';
import API_SCHEMAS from './api-schemas.json' with { type: 'json' };
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReportData } from '@haystack/report';
import { buildHitlist, dayDir, hitlistBuilds, PdnsFileInput, writeDayFiles } from '@haystack/hitlist';
import { cof } from '@haystack/hitlist/test-helpers';
import { loadRules } from '@haystack/rules';
import type { DictionaryCoverage } from '@haystack/hitlist-contract';
import { CAM1, DAY, TUYA6, captureLogger, cleanupClickHouseDir, tempDir, toService } from '@haystack/detector/test-helpers';
import { openConsoleWorld, PREV, type ConsoleWorld } from './test-world.js';
import { createConsole } from './server.js';
import { queryAudit, type HitlistBrowse, type TimeToDetection, type Trends } from './queries.js';
import type { LiveQuality } from './live.js';
import type { BackendsResponse, WhatIfResponse } from './api-types.js';
import { addDays, TABLES } from '@haystack/store';

/**
 * The console's JSON API on real ClickHouse (chdb) holding what a real detector stored from
 * flows: every answer checked against the flows sent, authentication, validation (400 with a
 * reason), the guarded lookup and its audit rows.
 */
after(cleanupClickHouseDir);
const tmp = tempDir('console-api-');
after(tmp.cleanup);

let w: ConsoleWorld;
let token: string;
let base: string;
before(async () => {
  w = await openConsoleWorld(tmp.dir);
  ({ token, base } = w);
});
after(() => w?.close());

const get = (path: string, auth = true) => fetch(`${base}${path}`, { headers: auth ? { authorization: `Bearer ${token}` } : {} });
const post = (path: string, body: unknown, auth = true) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });

test('the tokens file is created 0600 with one token, and the API refuses a request without it', async () => {
  const path = join(tmp.dir, 'state', 'console', 'tokens');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.match(readFileSync(path, 'utf8'), /^admin:\S{24,}$/m);
  const r = await get(`/api/v1/days/${DAY}/report`, false);
  assert.equal(r.status, 401);
  assert.match(((await r.json()) as { message: string }).message, /Bearer/);
  const bad = await fetch(`${base}/api/v1/trends`, { headers: { authorization: 'Bearer not-a-token-of-this-console-000000' } });
  assert.equal(bad.status, 401);
  const h = await get('/api/v1/health', false);
  assert.equal(h.status, 200);
  assert.equal(
    h.headers.get('content-security-policy'),
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  );
});

test('day report: the same ReportData the CLI renders, from the stored detections', async () => {
  const r = await get(`/api/v1/days/${DAY}/report`);
  assert.equal(r.status, 200);
  const d = (await r.json()) as ReportData;
  assert.equal(d.day, DAY);
  assert.deepEqual(d.lines, { active: 4, activePrevious: 1, withAnyDetection: 3 });
  const cam = d.classes.find((c) => c.classId === 'acme-cam')!;
  assert.equal(cam.detectedLines, 1);
  assert.equal(cam.detectedLinesPrevious, 1);
});

test('backends: where the day’s IoT traffic goes, per provider, network, country and class; dependence; what if a provider failed', async () => {
  const r = (await (await get(`/api/v1/days/${DAY}/backends?days=2`)).json()) as BackendsResponse;
  const f = r.figures!;
  assert.ok(f, 'backend data recorded with the hitlist');
  assert.equal(f.homeCountry, 'DE');
  assert.deepEqual(
    f.datasets.map((d) => [d.kind, d.date, d.licence]),
    [
      ['asn', DAY, 'as supplied'],
      ['country', f.datasets[1]!.date, 'as supplied'],
      ['providers', f.datasets[2]!.date, 'as supplied'],
    ],
  );
  // Three hitlist addresses: cam1 and api in Acme Cloud (DE), the Tuya one (US) in no listed provider.
  assert.deepEqual([f.addresses, f.unknown], [3, { asn: 0, country: 0, provider: 1 }]);
  const share = (xs: { key: string; share: number }[]) => Object.fromEntries(xs.map((x) => [x.key, Math.round(x.share * 1000) / 1000]));
  const bytes = (xs: { key: string; estBytes: number }[]) => Object.fromEntries(xs.map((x) => [x.key, x.estBytes]));
  // The day's flows (1,200 bytes each at 1:1000): three to acme addresses, one to Tuya's.
  assert.deepEqual(bytes(f.all.byProvider), { acmecloud: 3_600_000, unknown: 1_200_000 });
  assert.deepEqual(share(f.all.byCountry), { DE: 0.75, US: 0.25 });
  assert.deepEqual(bytes(f.all.byOrg), { AS64500: 3_600_000, AS64501: 1_200_000 });
  assert.equal(f.all.outsideCountry, 0.25);
  assert.equal(f.all.outsideContinent, 0.25);
  const cam = f.classes.find((c) => c.classId === 'acme-cam')!;
  assert.deepEqual([cam.estBytes, cam.lines, cam.outsideCountry], [2_400_000, 1, 0]);
  // acme-cam and acme have every backend in Acme Cloud: the lines detected with them depend on it.
  const dep = f.dependence.find((d) => d.provider === 'acmecloud' && d.country === '')!;
  assert.deepEqual([dep.lines, dep.classes], [2, ['acme', 'acme-cam']]);
  assert.ok(!f.dependence.some((d) => d.classes.includes('tuya')), 'Tuya’s backend is in no listed provider');
  const w = (await (await get(`/api/v1/days/${DAY}/backends/what-if?provider=acmecloud&country=de`)).json()) as WhatIfResponse;
  assert.deepEqual([w.lines, w.classes, w.country], [2, ['acme', 'acme-cam'], 'DE']);
  const none = (await (await get(`/api/v1/days/${DAY}/backends/what-if?provider=acmecloud&country=US`)).json()) as WhatIfResponse;
  assert.deepEqual([none.lines, none.classes], [0, []]);
  assert.equal((await get(`/api/v1/days/${DAY}/backends/what-if?provider=acme%20cloud`)).status, 400);
  // A provider the day's backends never lie in is a typo, said as such (not "0 lines").
  const typo = await get(`/api/v1/days/${DAY}/backends/what-if?provider=acmecloudd`);
  assert.equal(typo.status, 400);
  assert.match(((await typo.json()) as { message: string }).message, /no backend of .* lies in provider "acmecloudd"; the day's providers: acmecloud/);
  // Aggregates only: no line id in the answer.
  assert.doesNotMatch(JSON.stringify(r), /100\.64\.0\.\d|2001:db8:5:/);
  assert.deepEqual(r.trend.days, [PREV, DAY]);
  assert.deepEqual(r.trend.providers.find((p) => p.key === 'acmecloud')!.estBytes, [1_200_000, 3_600_000]);
  // The page shows the same, with the report's section and the trend charts.
  const page = await (await get(`/backends?day=${DAY}`, false)).text();
  assert.match(page, /<h1>Where the IoT traffic goes/);
  assert.match(page, /<tr data-provider="acmecloud" data-country=""><td>acmecloud<\/td><td>any<\/td><td class="num">2<\/td>/);
  assert.match(page, /id="chart-backends-providers"/);
  // The day's report carries the same figures.
  const report = (await (await get(`/api/v1/days/${DAY}/report`)).json()) as ReportData;
  assert.deepEqual(report.backends, f);
});

test('trends: detected lines per class per day over the range, with change', async () => {
  const r = await get(`/api/v1/trends?to=${DAY}&days=3`);
  assert.equal(r.status, 200);
  const t = (await r.json()) as Trends;
  assert.equal(t.days.length, 3);
  assert.deepEqual(t.days.slice(1), [PREV, DAY]);
  // The first day holds nothing: null (a gap), not 0.
  assert.deepEqual(t.activeLines, [null, 1, 4]);
  const acme = t.classes.find((c) => c.classId === 'acme')!;
  assert.equal(acme.level, 'manufacturer');
  assert.deepEqual(acme.lines, [null, 1, 2]);
  assert.equal(acme.change, 1);
  assert.equal(acme.relativeChange, 1);
  const tuya = t.classes.find((c) => c.classId === 'tuya')!;
  assert.deepEqual(tuya.lines, [null, 1, 2], 'the cam line (the cam runs on tuya) and the IPv6 line');
  // A range ending after the last stored day: the change is of the days with data, not a fall to −100 %.
  const later = (await (await get(`/api/v1/trends?to=${addDays(DAY, 2)}&days=4`)).json()) as Trends;
  assert.deepEqual(later.activeLines, [1, 4, null, null]);
  const acme2 = later.classes.find((c) => c.classId === 'acme')!;
  assert.deepEqual([acme2.change, acme2.relativeChange], [1, 1]);
  const page = await (await get(`/trends?to=${addDays(DAY, 2)}&days=4`)).text();
  assert.match(page, /id="trends-gaps">2 of the 4 days hold no stored data/);
  assert.equal([...page.matchAll(/<svg id="chart-active"[^]*?<\/svg>/g)].length, 1);
  const chart = /<svg id="chart-active"[^]*?<\/svg>/.exec(page)![0];
  assert.deepEqual(
    [...chart.matchAll(/class="gap" data-day="([^"]+)"/g)].map((m) => m[1]),
    [addDays(DAY, 1), addDays(DAY, 2)],
  );
  assert.match(chart, /class="chart-title"[^>]*>Active lines per day</);
  assert.match(chart, /<g class="legend">.*active lines.*no data stored/);
  // Every chart on the page is titled and has a legend.
  for (const c of page.match(/<svg id="chart-[^]*?<\/svg>/g) ?? []) assert.match(c, /class="chart-title"[^]*class="legend"/);
  assert.match(page, /<th class="num">Lines \(\d{4}-\d{2}-\d{2}\)<\/th>/);
});

test('time to detection: minutes from first evidence to the hourly detection, per class', async () => {
  const r = await get(`/api/v1/time-to-detection?to=${DAY}&days=1`);
  assert.equal(r.status, 200, await r.clone().text());
  const t = (await r.json()) as TimeToDetection;
  const cam = t.classes.find((c) => c.classId === 'acme-cam')!;
  assert.ok(cam, JSON.stringify(t));
  assert.equal(cam.detectedHourly, 1);
  assert.ok(cam.minutes && cam.minutes.p50 >= 0 && cam.minutes.p50 <= 60, JSON.stringify(cam.minutes));
  assert.equal(
    cam.histogram.reduce((a, b) => a + b, 0),
    1,
  );
});

test('hitlist: classes with decisions and reasons, domains, entries of a class, churn', async () => {
  const h = (await (await get(`/api/v1/hitlist?day=${DAY}`)).json()) as HitlistBrowse;
  assert.equal(h.day, DAY);
  assert.ok(h.classes.some((c) => c.classId === 'acme-cam' && c.status === 'detectable'));
  assert.ok(h.domains.some((d) => d.domain === 'cam1.acme.com'));
  assert.ok(h.entries.some((e) => e.address === CAM1));
  assert.ok(h.entries.some((e) => e.address === TUYA6));
  assert.deepEqual(
    h.churn.map((c) => c.day),
    [PREV, DAY],
  );
  assert.equal(h.churn[1]!.added, 0);
  const one = (await (await get(`/api/v1/hitlist?day=${DAY}&class=tuya`)).json()) as HitlistBrowse;
  assert.ok(one.entries.length > 0 && one.entries.every((e) => e.classIds.includes('tuya')));
});

test('rules: what the dictionary of the detector covers, per maker and platform, with its digest', async () => {
  const cov = (await (await get('/api/v1/rules')).json()) as DictionaryCoverage;
  assert.equal(cov.digest, loadRules(w.config.detector.rulesDir!).digest);
  assert.deepEqual(
    cov.entries.map((m) => [m.id, m.kind, m.level, m.products.map((p) => `${p.id}:${p.level}`)]),
    [
      // cam1/cam2 are the camera's alone among Acme's two products; api.acme.com is both products'.
      ['tuya', 'platform', 'product', ['acme-cam:product']],
      ['acme', 'manufacturer', 'product', ['acme-cam:product', 'acme-plug:manufacturer']],
    ],
  );
  assert.equal(cov.makers, 1);
  // The hitlist page shows it.
  const page = await (await get(`/hitlist?day=${DAY}`)).text();
  assert.match(page, /<h2>IoT dictionary<\/h2>/);
  assert.match(page, /<tr data-maker="acme">/);
});

test('rules: a dictionary that cannot be read is a 503 with the reason; the hitlist page still shows the day', async (t) => {
  const broken = join(tmp.dir, 'broken-rules');
  mkdirSync(broken, { recursive: true });
  writeFileSync(join(broken, 'r.yaml'), 'domains:\n  - { domain: x.example, role: nonsense }\n');
  const config = { ...w.config, detector: { ...w.config.detector, rulesDir: broken } };
  const srv = await createConsole({
    config,
    log: captureLogger().log,
    store: w.ch,
    now: () => new Date(`${DAY}T23:00:00Z`),
    hitlistBuilds: hitlistBuilds(config),
  });
  t.after(() => srv.stop());
  const url = await srv.start();
  const r = await fetch(`${url}/api/v1/rules`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 503);
  assert.match(((await r.json()) as { message: string }).message, /^the IoT dictionary cannot be read: invalid rules/);
  const page = await fetch(`${url}/hitlist?day=${DAY}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /<p class="card bad" id="dictionary">the IoT dictionary cannot be read/);
  assert.match(html, /acme-cam/);
});

test('validation: bad parameters are answered 400 with a reason', async () => {
  for (const [path, re] of [
    ['/api/v1/days/2026-13-45/report', /not a calendar day/],
    ['/api/v1/days/yesterday/report', /pattern|day/],
    ['/api/v1/trends?days=0', /days/],
    ['/api/v1/trends?days=1', /at least 2/],
    ['/api/v1/trends?color=red', /additional|color/],
    ['/api/v1/hitlist?class=..%2Fetc', /class|pattern/],
    ['/api/v1/quality?day=2026-02-30', /not a calendar day/],
  ] as const) {
    const r = await get(path);
    assert.equal(r.status, 400, `${path}: ${await r.clone().text()}`);
    assert.match(((await r.json()) as { message: string }).message, re, path);
  }
  const r = await get('/api/v1/nothing-here');
  assert.equal(r.status, 404);
});

test('lookup: refused without a token (audited), answered with one; an IPv6 address finds its line; every call in the audit table', async () => {
  const refused = await post('/api/v1/lookup', { query: '100.64.0.1', from: PREV, to: DAY }, false);
  assert.equal(refused.status, 401);
  const r = await post('/api/v1/lookup', { query: '100.64.0.1', from: PREV, to: DAY });
  assert.equal(r.status, 200);
  const body = (await r.json()) as { lines: number; results: { day: string; line: string; classId: string; domains: string[]; windows: string[] }[] };
  assert.equal(body.lines, 1);
  const cam = body.results.filter((x) => x.classId === 'acme-cam');
  assert.deepEqual(
    cam.map((x) => x.day),
    [PREV, DAY],
  );
  assert.deepEqual(cam[1]!.domains, ['cam1.acme.com']);
  assert.ok(cam[1]!.windows.includes('day') && cam[1]!.windows.includes('10:00'));
  // An address inside the IPv6 line (/56): the line's detections.
  const v6 = (await (await post('/api/v1/lookup', { query: '2001:db8:5:5ff::77', from: DAY, to: DAY })).json()) as typeof body;
  assert.ok(
    v6.results.some((x) => x.classId === 'tuya' && x.line === '2001:db8:5:500::/56'),
    JSON.stringify(v6),
  );
  // A /30: four lines searched.
  const p = (await (await post('/api/v1/lookup', { query: '100.64.0.0/30', from: DAY, to: DAY })).json()) as typeof body;
  assert.equal(p.lines, 4);
  assert.deepEqual([...new Set(p.results.map((x) => x.line))].sort(), ['100.64.0.1', '100.64.0.3']);
  // Too wide, or not an address: 400 with the reason.
  const wide = await post('/api/v1/lookup', { query: '100.64.0.0/10', from: DAY, to: DAY });
  assert.equal(wide.status, 400);
  assert.match(((await wide.json()) as { message: string }).message, /at most 4096/);
  const junk = await post('/api/v1/lookup', { query: 'example.com', from: DAY, to: DAY });
  assert.equal(junk.status, 400);

  const audit = (await (await get('/api/v1/lookup/audit?limit=50')).json()) as { who: string; query: string; allowed: boolean; results: number }[];
  assert.ok(audit.some((a) => a.who === '(unauthenticated)' && !a.allowed && a.query === '100.64.0.1'));
  assert.ok(audit.some((a) => a.who === 'admin' && a.allowed && a.query === '100.64.0.1' && a.results === body.results.length));
  assert.ok(audit.some((a) => a.who === 'admin' && a.query === '100.64.0.0/30'));
});

test('lookup disabled: refused and audited (API and page); the session cookie is Secure behind TLS', async (t) => {
  const config = { ...w.config, console: { ...w.config.console, lookup: { enabled: false } } };
  const srv = await createConsole({
    config,
    log: captureLogger().log,
    store: w.ch,
    now: () => new Date(`${DAY}T23:00:00Z`),
    hitlistBuilds: hitlistBuilds(config),
  });
  t.after(() => srv.stop());
  const url = await srv.start();
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const r = await fetch(`${url}/api/v1/lookup`, { method: 'POST', headers: auth, body: JSON.stringify({ query: '100.64.0.9', from: DAY, to: DAY }) });
  assert.equal(r.status, 403);
  const page = await fetch(`${url}/lookup`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: new URLSearchParams({ query: '100.64.0.10', from: DAY, to: DAY }),
  });
  assert.equal(page.status, 403);
  // (the audit API is part of the disabled lookup: read the table itself)
  const audit = await queryAudit(w.ch, 50);
  assert.ok(
    audit.some((a) => a.who === 'admin' && !a.allowed && a.query === '100.64.0.9'),
    'the refused API call',
  );
  assert.ok(
    audit.some((a) => a.who === 'admin' && !a.allowed && a.query === '100.64.0.10'),
    'the refused page form',
  );
  // Behind a TLS proxy the session cookie is Secure; on plain loopback it is not.
  const login = (headers: Record<string, string>) =>
    fetch(`${url}/login`, { method: 'POST', headers, body: new URLSearchParams({ token, next: '/' }), redirect: 'manual' }).then(
      (x) => x.headers.get('set-cookie') ?? '',
    );
  assert.doesNotMatch(await login({}), /Secure/);
  assert.match(await login({ 'x-forwarded-proto': 'https' }), /; Secure$/);
  const tls = await createConsole({ config: { ...config, console: { ...config.console, behindTls: true } }, log: captureLogger().log, store: w.ch });
  t.after(() => tls.stop());
  const tlsUrl = await tls.start();
  const c = await fetch(`${tlsUrl}/login`, { method: 'POST', body: new URLSearchParams({ token, next: '/' }), redirect: 'manual' });
  assert.match(c.headers.get('set-cookie') ?? '', /HttpOnly; SameSite=Strict; Path=\/; Max-Age=28800; Secure/);
  // Assembled without the hitlist builder's side (this console was given none): the two endpoints say so.
  const bearer = { authorization: `Bearer ${token}` };
  const rules = await fetch(`${tlsUrl}/api/v1/rules`, { headers: bearer });
  assert.equal(rules.status, 503);
  assert.match(((await rules.json()) as { message: string }).message, /^this process has no access to the IoT dictionary$/);
  const rec = await fetch(`${tlsUrl}/api/v1/hitlist/days/${DAY}/record`, { method: 'POST', headers: bearer });
  assert.equal(rec.status, 503);
  assert.match(((await rec.json()) as { message: string }).message, /cannot record hitlist builds/);
});

test('pages keep the day they show in the navigation (the day, trends and time to detection up to it, its hitlist and quality)', async () => {
  const html = await (await get(`/day/${DAY}`)).text();
  const nav = /<nav class="top"[^>]*>(.*?)<\/nav>/s.exec(html)![1]!;
  const hrefs = [...nav.matchAll(/<a href="([^"]+)"/g)].map((m) => m[1]!.replaceAll('&amp;', '&'));
  for (const want of [`/day/${DAY}`, `/trends?to=${DAY}`, `/time-to-detection?to=${DAY}`, `/hitlist?day=${DAY}`, `/quality?day=${DAY}`])
    assert.ok(hrefs.includes(want), `${want} in ${hrefs.join(' ')}`);
  // From a page of that day the others follow; a page asked without a day links plainly.
  const fromTrends = await (await get(`/trends?to=${DAY}&days=3`)).text();
  assert.match(fromTrends, new RegExp(`href="/quality\\?day=${DAY}"`));
  const plain = await (await get('/trends')).text();
  assert.match(plain, /href="\/quality"/);
});

test('OpenAPI document lists every API path', async () => {
  const r = await get('/api/openapi.json', false);
  const doc = (await r.json()) as { openapi: string; paths: Record<string, unknown> };
  assert.match(doc.openapi, /^3\./);
  for (const p of [
    '/api/v1/days/{day}/report',
    '/api/v1/trends',
    '/api/v1/time-to-detection',
    '/api/v1/hitlist',
    '/api/v1/hitlist/days/{day}/record',
    '/api/v1/quality',
    '/api/v1/lookup',
    '/api/v1/lookup/audit',
  ])
    assert.ok(p in doc.paths, p);
  assert.ok(!Object.keys(doc.paths).some((p) => !p.startsWith('/api/')), 'pages are not in the API document');
  // Every operation documents its answer (and its errors) with a schema.
  for (const [path, ops] of Object.entries(
    doc.paths as Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema?: object }> }> }>>,
  ))
    for (const [method, op] of Object.entries(ops)) {
      assert.ok(op.responses?.['200']?.content?.['application/json']?.schema, `${method} ${path}: 200 schema`);
      if (path !== '/api/v1/health') assert.ok(op.responses?.['400']?.content?.['application/json']?.schema, `${method} ${path}: error schema`);
    }
});

test('OpenAPI response schemas: every answer of every route is exactly what its schema says (no field missing or undocumented)', async () => {
  const ajv = new Ajv({ allErrors: true, strict: false });
  for (const [id, schema] of Object.entries(API_SCHEMAS)) ajv.addSchema({ ...schema, $id: id });
  const check = async (id: string, path: string, init?: RequestInit) => {
    const r = await fetch(`${base}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, ...(init?.body ? { 'content-type': 'application/json' } : {}) },
    });
    assert.equal(r.status, 200, `${path}: ${await r.clone().text()}`);
    const body: unknown = await r.json();
    const ok = ajv.validate(`${id}#`, body);
    assert.ok(ok, `${path} against ${id}: ${ajv.errorsText(ajv.errors, { separator: '\n' })}`);
    return body;
  };
  await check('HealthResponse', '/api/v1/health');
  await check('ReportResponse', `/api/v1/days/${DAY}/report`);
  await check('ReportResponse', `/api/v1/days/${PREV}/report`);
  await check('TrendsResponse', `/api/v1/trends?to=${addDays(DAY, 1)}&days=4`);
  await check('TimeToDetectionResponse', `/api/v1/time-to-detection?to=${DAY}&days=2`);
  await check('HitlistResponse', `/api/v1/hitlist?day=${DAY}`);
  await check('HitlistResponse', `/api/v1/hitlist?day=2001-01-01`);
  await check('RulesResponse', '/api/v1/rules');
  await check('QualityResponse', `/api/v1/quality?day=${DAY}`);
  await check('BackendsResponse', `/api/v1/days/${DAY}/backends`);
  await check('BackendsResponse', `/api/v1/days/2001-01-01/backends`);
  await check('WhatIfResponse', `/api/v1/days/${DAY}/backends/what-if?provider=acmecloud`);
  await check('QualityResponse', '/api/v1/quality');
  const found = (await check('LookupResponse', '/api/v1/lookup', { method: 'POST', body: JSON.stringify({ query: '100.64.0.1', from: PREV, to: DAY }) })) as {
    results: unknown[];
  };
  assert.ok(found.results.length > 0, 'a lookup with results was checked');
  await check('AuditResponse', '/api/v1/lookup/audit');
  // An error answer is documented too.
  const bad = await fetch(`${base}/api/v1/trends?days=0`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(bad.status, 400);
  assert.ok(ajv.validate('ErrorResponse#', await bad.json()), ajv.errorsText(ajv.errors));
  // And a schema is strict: an undocumented field fails it.
  assert.equal(ajv.validate('HealthResponse#', { ok: true, storage: 'embedded', deployment: 'isp', lookup: false, extra: 1 }), false);
});

test('past days come from the cache while their data is unchanged, and are counted again when flows for them arrive', async () => {
  const db = w.ch.database;
  const first = (await (await get(`/api/v1/days/${PREV}/report`)).json()) as ReportData;
  assert.equal(first.lines.active, 1);
  const cacheRow = async () =>
    (
      await w.ch.query<{ fingerprint: string; at: string }>(
        `SELECT fingerprint, toString(computed_at) AS at FROM ${db}.${TABLES.consoleReports} FINAL WHERE day = {d:Date}`,
        { d: PREV },
      )
    )[0];
  const c1 = await cacheRow();
  assert.ok(c1, 'the past day is cached');
  const again = (await (await get(`/api/v1/days/${PREV}/report`)).json()) as ReportData;
  assert.deepEqual(again, first);
  assert.deepEqual(await cacheRow(), c1, 'served from the cache, not computed again');
  const t1 = (await (await get(`/api/v1/trends?to=${DAY}&days=2`)).json()) as Trends;
  assert.deepEqual(t1.activeLines, [1, 4]);
  // A late flow for the past day (a replay): both answers change.
  await w.send([toService('100.64.0.9', CAM1, Date.parse(`${PREV}T15:00:00Z`))]);
  const late = (await (await get(`/api/v1/days/${PREV}/report`)).json()) as ReportData;
  assert.equal(late.lines.active, 2);
  assert.notEqual((await cacheRow())!.fingerprint, c1.fingerprint, 'computed again under the new fingerprint');
  const t2 = (await (await get(`/api/v1/trends?to=${DAY}&days=2`)).json()) as Trends;
  assert.deepEqual(t2.activeLines, [2, 4]);
  assert.deepEqual(t2.classes.find((c) => c.classId === 'acme-cam')!.lines, [2, 1]);
});

test('recording a build from its day files (what `hitlist build` asks while run holds the store): token required, missing day 404, unreadable files refused without touching the recorded day', async () => {
  const next = new Date(Date.parse(`${DAY}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  const path = `/api/v1/hitlist/days/${next}/record`;
  const record = (auth = true) => fetch(`${base}${path}`, { method: 'POST', headers: auth ? { authorization: `Bearer ${token}` } : {} });
  assert.equal((await record(false)).status, 401);
  const missing = await record();
  assert.equal(missing.status, 404);
  assert.match(((await missing.json()) as { message: string }).message, new RegExp(`no hitlist built for ${next}`));

  const pdns = join(tmp.dir, 'next.jsonl');
  writeFileSync(pdns, cof('cam1.acme.com', 'A', CAM1, next));
  const built = await buildHitlist({ day: next, rules: loadRules(join(tmp.dir, 'rules')), pdns: [new PdnsFileInput(pdns)], tmpDir: tmp.dir });
  const dir = dayDir(join(tmp.dir, 'state'), next);
  await writeDayFiles(dir, built);
  const ok = await record();
  assert.equal(ok.status, 200, await ok.clone().text());
  const n = (await ok.json()) as { day: string; entries: number; builtAt: string };
  assert.equal(n.day, next);
  assert.equal(n.builtAt, built.hitlist.builtAt);
  const h = (await (await get(`/api/v1/hitlist?day=${next}`)).json()) as HitlistBrowse;
  assert.equal(h.day, next);
  // Rows recorded (one per class an entry serves) vs the hitlist's distinct entries.
  assert.ok(n.entries >= built.hitlist.entries.length);
  assert.equal(h.entriesTotal, built.hitlist.entries.length);
  assert.deepEqual([...new Set(h.entries.map((e) => e.address))], [CAM1]);

  // A damaged file is refused with the reason; the day's recorded history is left as it was.
  writeFileSync(join(dir, 'decisions.json'), '{"day": "' + next + '", "classes": [');
  const bad = await record();
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { message: string }).message, /cannot be read/);
  // Valid JSON of the wrong shape, or of another day: refused the same way, before anything is dropped.
  for (const [body, re] of [
    [JSON.stringify({ day: next, classes: {}, domains: [] }), /decisions\.json: classes/],
    [JSON.stringify({ day: DAY, classes: [], domains: [] }), /different days/],
  ] as const) {
    writeFileSync(join(dir, 'decisions.json'), body);
    const r = await record();
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as { message: string }).message, re);
  }
  const still = (await (await get(`/api/v1/hitlist?day=${next}`)).json()) as HitlistBrowse;
  assert.equal(still.entriesTotal, built.hitlist.entries.length);
  assert.equal(still.builtAt, h.builtAt);
  // A form from another site cannot make the console record anything, even for a signed-in user.
  const cross = await fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, origin: 'http://evil.example' } });
  assert.equal(cross.status, 403);
  for (const site of ['same-site', 'cross-site']) {
    const r = await fetch(`${base}/login`, {
      method: 'POST',
      headers: { 'sec-fetch-site': site },
      body: new URLSearchParams({ token, next: '/' }),
      redirect: 'manual',
    });
    assert.equal(r.status, 403, `a form posted from a ${site} page`);
  }
  // Nor can the session cookie alone (it rides along with any request the browser makes): the API's writes need the token.
  const login = await fetch(`${base}/login`, { method: 'POST', body: new URLSearchParams({ token, next: '/' }), redirect: 'manual' });
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  assert.equal((await fetch(`${base}${path}`, { method: 'POST', headers: { cookie } })).status, 401);
  assert.equal((await fetch(`${base}/api/v1/hitlist?day=${next}`, { headers: { cookie } })).status, 200, 'reading with the session stays possible');
});

test('quality without live counters: the day’s stored figures per exporter, as the report has them', async () => {
  const q = (await (await get(`/api/v1/quality?day=${DAY}`)).json()) as LiveQuality;
  assert.equal(q.live, false);
  assert.equal(q.day, DAY);
  // Records: what the detector stored (5 flows of the day), not the health snapshot's 4; an agent whose
  // samples never arrived shows 0 records with its health counters.
  assert.deepEqual(
    q.exporters.map((x) => [x.exporter, x.version, x.records, x.samplingRates, x.sequenceGaps, x.lost, x.samplesLost, x.healthKnown]),
    [
      ['192.0.2.1', 9, 5, [1000], 1, 30, 0, true],
      ['192.0.2.9', 133, 0, [2048], 2, 12, 12, true],
    ],
  );
  assert.equal(q.recordsDecoded, 5);
  assert.equal(q.consumerLag, null, 'no live counters here: unknown, not zero');
});

test('pages behind sign-in (console.pagesNeedSignIn, or a console listening beyond loopback): sent to sign in, shown after', async (t) => {
  const config = { ...w.config, console: { ...w.config.console, pagesNeedSignIn: true } };
  const srv = await createConsole({
    config,
    log: captureLogger().log,
    store: w.ch,
    now: () => new Date(`${DAY}T23:00:00Z`),
    hitlistBuilds: hitlistBuilds(config),
  });
  t.after(() => srv.stop());
  const url = await srv.start();
  const r = await fetch(`${url}/trends?days=3`, { redirect: 'manual' });
  assert.equal(r.status, 303);
  assert.equal(r.headers.get('location'), `/login?next=${encodeURIComponent('/trends?days=3')}`);
  assert.equal((await fetch(`${url}/login`)).status, 200);
  assert.equal((await fetch(`${url}/assets/console.css`)).status, 200);
  const login = await fetch(`${url}/login`, { method: 'POST', body: new URLSearchParams({ token, next: '/trends?days=3' }), redirect: 'manual' });
  assert.equal(login.headers.get('location'), '/trends?days=3');
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const page = await fetch(`${url}/trends?days=3`, { headers: { cookie } });
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<h1>Trends/);
  // The default test console (127.0.0.1, not configured) shows its pages to whoever reaches it.
  assert.equal((await fetch(`${base}/trends?days=3`, { redirect: 'manual' })).status, 200);
});
