import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fmtInt, queryReportData, renderText, type ReportData } from '@haystack/report';
import { buildHitlist, dayDir, PdnsFileInput, runShowCommand, writeDayFiles } from '@haystack/hitlist';
import { cof } from '@haystack/hitlist/test-helpers';
import { loadRules } from '@haystack/rules';
import { CAM2, DAY, MULTI, cleanupClickHouseDir, tempDir } from '@haystack/detector/test-helpers';
import { openConsoleWorld, type ConsoleWorld } from './test-world.js';
import type { HitlistBrowse, Trends } from './queries.js';
import type { LiveQuality } from './live.js';

/**
 * Every figure shown in two places is one figure: the report (its data, its text), the console's
 * pages and its JSON API, read from the same store. The store holds what made them disagree
 * before: a health snapshot that misses the last interval (4 records where the detector stored
 * 5), hitlist entries that serve several classes (one row per class), and a class whose two
 * domains share an address while a third domain's address was seen only earlier in the window.
 */
let dir: ReturnType<typeof tempDir>;
let w: ConsoleWorld;
const NEXT = new Date(Date.parse(`${DAY}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
const EARLIER = new Date(Date.parse(`${DAY}T00:00:00Z`) - 2 * 86_400_000).toISOString().slice(0, 10);

before(async () => {
  dir = tempDir('one-set-of-numbers');
  w = await openConsoleWorld(dir.dir);
});
after(async () => {
  await w.close();
  dir.cleanup();
  cleanupClickHouseDir();
});

const get = async <T>(path: string): Promise<T> => {
  const r = await fetch(`${w.base}${path}`, { headers: { authorization: `Bearer ${w.token}` } });
  assert.equal(r.status, 200, `${path}: ${await r.clone().text()}`);
  return (r.headers.get('content-type') ?? '').includes('json') ? ((await r.json()) as T) : ((await r.text()) as T);
};
const cellOf = (html: string, key: string) => new RegExp(`data-k="${key}">([^<]*)<`).exec(html)?.[1];

test('data quality: the report, its text, the console page and the API give the same records per exporter and in total', async () => {
  const report = await queryReportData(w.ch, DAY);
  const api = await get<ReportData>(`/api/v1/days/${DAY}/report`);
  assert.deepEqual(api.quality, report.quality);
  const q = await get<LiveQuality>(`/api/v1/quality?day=${DAY}`);
  assert.equal(report.quality.flowsTotal, 5, 'the detector stored five flows of the day (the health snapshot says 4)');
  assert.equal(q.recordsDecoded, report.quality.flowsTotal);
  assert.deepEqual(
    q.exporters.map((x) => [x.exporter, x.version, x.domain, x.records, x.samplingRates, x.sequenceGaps, x.lost]),
    report.quality.exporters.map((x) => [x.exporter, x.version, x.observationDomain, x.records, x.samplingRates, x.sequenceGaps, x.lost]),
  );
  const page = await get<string>(`/quality?day=${DAY}`);
  assert.equal(cellOf(page, 'flow records received by the detector'), fmtInt(report.quality.flowsTotal));
  for (const x of report.quality.exporters)
    assert.match(page, new RegExp(`data-exporter="${x.exporter}">.*?<td class="num records">${fmtInt(x.records)}</td>`));
  assert.match(renderText(report), new RegExp(`flows ${fmtInt(report.quality.flowsTotal)},`));
});

test('lines: the report and the trends count the same active and detected lines for the day', async () => {
  const report = await queryReportData(w.ch, DAY);
  const t = await get<Trends>(`/api/v1/trends?to=${DAY}&days=2`);
  assert.equal(t.activeLines.at(-1), report.lines.active);
  const fromTrends = Object.fromEntries(t.classes.map((c) => [c.classId, c.lines.at(-1)]).filter(([, n]) => n));
  const fromReport = Object.fromEntries(report.classes.filter((c) => c.detectedLines > 0).map((c) => [c.classId, c.detectedLines]));
  assert.deepEqual(fromTrends, fromReport);
  assert.ok(Object.keys(fromReport).length >= 2, JSON.stringify(fromReport));
  const dayPage = await get<string>(`/day/${DAY}`);
  for (const [id, n] of Object.entries(fromReport)) assert.match(dayPage, new RegExp(`data-class-id="${id}"><title>[^<]*: ${fmtInt(n)} lines?,`));
});

test('hitlist: entries and per-class addresses are one figure in the report, the console and `hitlist show`', async () => {
  // A build where cam1 and api (both acme-cam evidence) share one address, and cam2's address was
  // seen only two days before: in the window, not in the hitlist of the day.
  const pdns = join(dir.dir, 'next.jsonl');
  writeFileSync(
    pdns,
    [cof('cam1.acme.com', 'A', MULTI, EARLIER, NEXT), cof('api.acme.com', 'A', MULTI, EARLIER, NEXT), cof('cam2.acme.com', 'A', CAM2, EARLIER, EARLIER)].join(
      '\n',
    ),
  );
  const built = await buildHitlist({ day: NEXT, rules: loadRules(join(dir.dir, 'rules')), pdns: [new PdnsFileInput(pdns)], tmpDir: dir.dir });
  const stateDir = join(dir.dir, 'state');
  await writeDayFiles(dayDir(stateDir, NEXT), built);
  const rec = await fetch(`${w.base}/api/v1/hitlist/days/${NEXT}/record`, { method: 'POST', headers: { authorization: `Bearer ${w.token}` } });
  assert.equal(rec.status, 200, await rec.clone().text());

  let out = '';
  runShowCommand({ stateDir, day: NEXT, json: true }, (s) => (out += s));
  const show = JSON.parse(out) as { classes: { class: string; addresses: number }[] };
  const h = await get<HitlistBrowse>(`/api/v1/hitlist?day=${NEXT}`);
  const report = await queryReportData(w.ch, NEXT);

  assert.equal(h.entriesTotal, built.hitlist.entries.length);
  assert.equal(report.hitlist.entries, h.entriesTotal);
  assert.equal(report.hitlist.dedicatedAddresses, new Set(built.hitlist.entries.map((e) => e.address)).size);
  const byClass = (xs: { id: string; n: number }[]) => Object.fromEntries(xs.filter((x) => x.n > 0).map((x) => [x.id, x.n]));
  const consoleAddrs = byClass(h.classes.map((c) => ({ id: c.classId, n: c.addresses })));
  assert.deepEqual(consoleAddrs, byClass(show.classes.map((c) => ({ id: c.class, n: c.addresses }))));
  assert.equal(consoleAddrs['acme-cam'], 1, 'the address two of its domains share counts once; the one seen only earlier is not in the hitlist');
  const page = await get<string>(`/hitlist?day=${NEXT}`);
  assert.match(page, new RegExp(`${fmtInt(report.hitlist.entries)} dedicated \\(address, port, transport\\) entries`));
  assert.match(page, /data-class="acme-cam">.*?<td class="num">1<\/td>/);
});
