import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ReportData } from './data.js';
import { reportFixture } from './fixture.js';
import { CSV_COLUMNS, fmtInt, fmtShare, orderedClasses, qualityFindings, renderCsv, renderHtml, renderJson, renderText, sparkline } from './render.js';

/** RFC 4180 reader: CRLF records, quoted fields with doubled quotes and embedded line breaks. */
function parseCsv(s: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let f = '';
  let i = 0;
  let quoted = false;
  while (i < s.length) {
    const c = s[i]!;
    if (quoted) {
      if (c === '"' && s[i + 1] === '"') {
        f += '"';
        i += 2;
      } else if (c === '"') {
        quoted = false;
        i++;
      } else {
        f += c;
        i++;
      }
    } else if (c === '"') {
      assert.equal(f, '', `quote inside an unquoted field at ${i}`);
      quoted = true;
      i++;
    } else if (c === ',') {
      row.push(f);
      f = '';
      i++;
    } else if (c === '\r' && s[i + 1] === '\n') {
      row.push(f);
      rows.push(row);
      row = [];
      f = '';
      i += 2;
    } else {
      assert.ok(c !== '\n' && c !== '\r', `bare line break outside quotes at ${i}`);
      f += c;
      i++;
    }
  }
  assert.equal(quoted, false, 'unterminated quoted field');
  assert.ok(row.length === 0 && f === '', 'the last record must end with CRLF');
  return rows;
}

const VOID = new Set(['meta', 'link', 'br', 'img', 'input', 'hr', 'col', 'source', 'wbr', 'area', 'base', 'embed', 'track']);

/**
 * Well-formedness of our own output: every tag closed in order (void HTML elements and
 * self-closed SVG elements excepted), attributes double-quoted, no stray '<' or '>' in text,
 * unique ids. Our renderer escapes every '<' in text, so every '<' must start a tag.
 */
function checkWellFormed(html: string): { tags: Map<string, number>; ids: Set<string>; attributes: Set<string> } {
  assert.ok(html.startsWith('<!DOCTYPE html>'), 'doctype first');
  const tags = new Map<string, number>();
  const attributes = new Set<string>();
  const ids = new Set<string>();
  const stack: string[] = [];
  let i = html.indexOf('>') + 1;
  const tagRe = /<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:="[^"<>]*")?)*)\s*(\/?)>/y;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    const text = html.slice(i, lt === -1 ? html.length : lt);
    assert.ok(!text.includes('>'), `stray '>' in text near: ${JSON.stringify(text.slice(0, 80))}`);
    assert.ok(!/&(?![a-zA-Z]+;|#\d+;|#x[0-9a-fA-F]+;)/.test(text), `bare '&' in text near: ${JSON.stringify(text.slice(0, 80))}`);
    if (lt === -1) break;
    tagRe.lastIndex = lt;
    const m = tagRe.exec(html);
    assert.ok(m, `malformed tag near: ${JSON.stringify(html.slice(lt, lt + 100))}`);
    const [all, close, nameRaw, attrs, selfClose] = m;
    const name = nameRaw!.toLowerCase();
    tags.set(name, (tags.get(name) ?? 0) + (close ? 0 : 1));
    for (const a of attrs!.matchAll(/\s([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:="[^"]*")?/g)) attributes.add(a[1]!.toLowerCase());
    for (const a of attrs!.matchAll(/\sid="([^"]*)"/g)) {
      assert.ok(!ids.has(a[1]!), `duplicate id ${a[1]}`);
      ids.add(a[1]!);
    }
    i = lt + all.length;
    if (close) {
      const top = stack.pop();
      assert.equal(top, name, `</${name}> closes <${top}> near: ${JSON.stringify(html.slice(lt - 60, lt + 20))}`);
    } else if (!selfClose && !VOID.has(name)) {
      stack.push(name);
      if (name === 'style') {
        const end = html.indexOf('</style>', i);
        assert.ok(end > 0, 'unterminated <style>');
        i = end;
      }
    }
  }
  assert.deepEqual(stack, [], 'unclosed elements');
  return { tags, ids, attributes };
}

function hostile(): ReportData {
  const d = reportFixture();
  const c = d.classes.find((x) => x.classId === 'ring-doorbell')!;
  c.name = '<script>alert(1)</script><img src=x onerror="alert(2)">, "quoted" & \'single\'\x1b[31m\u202e';
  c.classId = 'x"><script>alert(3)</script>';
  const m = d.classes.find((x) => x.classId === 'meross')!;
  m.name = '=HYPERLINK("http://evil.example/","click")\r\nsecond line';
  d.hitlist.notDetectable.push({
    classId: '<b>bold</b>',
    name: '</title><script>alert(4)</script>',
    reason: '<style>body{display:none}</style>\x1b]0;owned\x07',
  });
  d.quality.exporters[0]!.exporter = '<svg onload=alert(5)>';
  return d;
}

test('fixture: deterministic, shaped like the paper, internally consistent', () => {
  const a = reportFixture();
  assert.deepEqual(reportFixture(), a, 'same options, same data');
  assert.notDeepEqual(reportFixture({ seed: 7 }).classes[0]!.hourly, a.classes[0]!.hourly, 'the seed changes the noise');
  assert.deepEqual(a.hitlist.byLevel, { platform: 4, manufacturer: 20, product: 11 });
  assert.equal(a.hitlist.detectableClasses, a.classes.length);
  assert.equal(new Set(a.classes.map((c) => c.classId)).size, a.classes.length, 'class ids unique');
  for (const c of a.classes) {
    assert.equal(c.hourly.length, 24, c.classId);
    assert.ok(
      c.hourly.every((v) => Number.isInteger(v) && v >= 0 && v <= c.detectedLines),
      `${c.classId} hourly within the daily count`,
    );
    assert.equal(c.shareOfActive, c.detectedLines / a.lines.active);
    assert.ok(c.detectedLinesPrevious !== null);
    for (const p of c.parents)
      assert.ok(
        a.classes.some((x) => x.classId === p),
        `${c.classId} parent ${p} is a class`,
      );
  }
  assert.ok(a.classes.filter((c) => c.detectedLines === 0).length >= 2, 'some classes with no detection');
  assert.ok(a.hitlist.notDetectable.length > 0 && a.hitlist.notDetectable.every((n) => n.reason.length > 0));
  assert.equal(
    a.quality.flowsTotal,
    a.quality.exporters.reduce((s, e) => s + e.records, 0),
  );
  const bad = a.quality.exporters.filter((e) => e.samplingRates.includes(0));
  assert.equal(bad.length, 1);
  assert.ok((bad[0]!.sequenceGaps ?? 0) > 0);
  assert.ok(a.lines.withAnyDetection <= a.lines.active);

  const fresh = reportFixture({ withPrevious: false, clean: true, day: '2027-01-01' });
  assert.equal(fresh.day, '2027-01-01');
  assert.equal(fresh.previousDay, null);
  assert.equal(fresh.hitlist.churn, null);
  assert.ok(fresh.classes.every((c) => c.detectedLinesPrevious === null));
  assert.deepEqual(
    fresh.classes.map((c) => c.hourly),
    a.classes.map((c) => c.hourly),
    'the same hourly profiles with or without a previous day',
  );
  assert.deepEqual(qualityFindings(reportFixture({ clean: true })), []);
});

test('text: headline numbers, every class with its numbers and sparkline, hitlist, data-quality warnings', () => {
  const d = reportFixture();
  const t = renderText(d);
  const lines = t.split('\n');
  const line = (re: RegExp) => lines.find((l) => re.test(l)) ?? assert.fail(`no line matching ${re}`);
  assert.match(line(/^Active lines/), /1,284,513\s+\+4,643 \(\+0\.4%\) vs 2026-11-19/);
  assert.match(line(/^Lines with any detection/), /231,402\s+18\.0% of active lines/);
  assert.match(line(/^Detectable classes/), /35\s+4 platform · 20 manufacturer · 11 product · 8 not detectable/);
  assert.match(line(/^Data quality/), /3 problems/);

  for (const c of d.classes) {
    const l = line(new RegExp(`^  ${c.name.replace(/[()]/g, '\\$&')}\\s+[\\d,]+\\s`));
    assert.ok(l.includes(` ${fmtInt(c.detectedLines)} `), `${c.classId}: lines in ${l}`);
    assert.ok(l.includes(fmtShare(c.shareOfActive)), `${c.classId}: share in ${l}`);
    assert.ok(l.endsWith(sparkline(c.hourly)), `${c.classId}: sparkline in ${l}`);
  }
  // Grouped by level, most detected first.
  const at = (s: string) => lines.findIndex((l) => l.startsWith(s));
  assert.ok(at('PLATFORMS (4)') < at('  Alexa Voice Service') && at('  Alexa Voice Service') < at('MANUFACTURERS (20)'));
  assert.ok(at('MANUFACTURERS (20)') < at('  Amazon ') && at('  Amazon ') < at('  Samsung Electronics') && at('  Insteon') < at('PRODUCTS (11)'));
  assert.match(line(/^ {2}Ring doorbell/), /\+1,440 \(\+10%\)/);
  assert.match(line(/^ {2}Tuya IoT cloud/), /-1,420 \(-6\.2%\)/);
  assert.match(line(/^ {2}Insteon/), /\s0\s+0%\s+0\s+·{24}$/);
  assert.match(line(/^ {2}D-Link motion sensor/), /-1 \(-100%\)/);

  assert.match(t, /2,391 dedicated service addresses in 4,105 \(address, port, transport\) entries/);
  assert.match(t, /churn against the previous day: \+37 added, -29 removed/);
  for (const n of d.hitlist.notDetectable) assert.ok(t.includes(`${n.name} [${n.classId}]: ${n.reason}`));

  assert.match(t, /DATA QUALITY \(3 problems\)/);
  assert.match(line(/^ {2}198\.51\.100\.7 /), /NetFlow v9\s+1\s+95,312,448\s+unknown, 1:1000\s+1,284\s+9,731 packets\s+0\s+312$/);
  // Losses are summed per unit only: the IPFIX exporter without health is said, not added as zero.
  assert.match(t, /^ {2}lost between exporters and collectors: 9,731 packets \(NetFlow v9\) \(unknown for 1 exporter\)$/m);
  assert.match(line(/^ {2}203\.0\.113\.4 /), /1:1024\s+–\s+–\s+–\s+–$/);
  assert.match(t, /! PROBLEM 198\.51\.100\.7 NetFlow v9 domain 1: sampling rate unknown/);
  assert.match(t, /! PROBLEM 198\.51\.100\.7 NetFlow v9 domain 1: 1,284 sequence gap\(s\), 9,731 packets lost/);
  assert.match(t, /- notice {2}203\.0\.113\.4 IPFIX domain 0: no ingest health snapshot/);
  assert.match(t, /flows with unknown sampling rate 31,448,207 \(2\.19%\)/);

  const clean = renderText(reportFixture({ clean: true, withPrevious: false }));
  assert.match(clean, /^Data quality\s+OK/m);
  // No problem found, but one exporter's losses are unknown: the headline never says OK then.
  const partly = reportFixture({ clean: true, withPrevious: false });
  Object.assign(partly.quality.exporters[0]!, {
    sequenceGaps: null,
    lost: null,
    malformed: null,
    missingTemplateSets: null,
    samplesLost: null,
    sampleDrops: null,
  });
  assert.match(renderText(partly), /^Data quality\s+unknown\s+1 exporter without ingest health: losses not known$/m);
  assert.match(renderHtml(partly), /id="kpi-quality"><div class="label">Data quality<\/div><div class="value">unknown</);
  assert.match(clean, /no previous day in storage/);
  assert.match(clean, /^ {2}Alexa Voice Service\s+148,231\s+11\.5%\s+n\/a\s/m);
  assert.match(clean, /churn against the previous day: n\/a/);
});

test('text: control characters and bidi overrides from data files do not reach the terminal', () => {
  const t = renderText(hostile());
  assert.ok(!/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/.test(t), 'no control or bidi character besides newline');
  assert.ok(t.includes('\uFFFD'), 'the escape is visibly replaced');
});

test('json: round-trips to the same data', () => {
  for (const d of [reportFixture(), reportFixture({ withPrevious: false, clean: true }), hostile()]) {
    const j = renderJson(d);
    assert.ok(j.endsWith('\n'));
    assert.deepEqual(JSON.parse(j), d);
  }
});

test('csv: documented columns, one row per class, numbers parse back exactly', () => {
  const d = reportFixture();
  const csv = renderCsv(d);
  const rows = parseCsv(csv);
  const [header, ...body] = rows;
  assert.deepEqual(
    header,
    CSV_COLUMNS.map((c) => c.name),
  );
  assert.equal(header!.length, 10 + 24);
  assert.ok(CSV_COLUMNS.every((c) => c.description.length > 0));
  assert.equal(body.length, d.classes.length);
  const ordered = orderedClasses(d);
  body.forEach((r, i) => {
    assert.equal(r.length, header!.length);
    const o = Object.fromEntries(header!.map((h, j) => [h, r[j]!]));
    const c = ordered[i]!;
    assert.equal(o.day, d.day);
    assert.equal(o.level, c.level);
    assert.equal(o.class_id, c.classId);
    assert.equal(o.name, c.name);
    assert.deepEqual(o.parents === '' ? [] : o.parents!.split(';'), c.parents);
    assert.equal(Number(o.detected_lines), c.detectedLines);
    assert.equal(Number(o.detected_lines_previous), c.detectedLinesPrevious);
    assert.equal(Number(o.change), c.detectedLines - c.detectedLinesPrevious!);
    assert.equal(Number(o.share_of_active), c.shareOfActive);
    assert.equal(Number(o.active_lines), d.lines.active);
    assert.deepEqual(
      Array.from({ length: 24 }, (_, h) => Number(o[`h${String(h).padStart(2, '0')}`])),
      c.hourly,
    );
  });
  assert.deepEqual(
    body.map((r) => r[2]),
    ['alexa', 'tuya', 'xiaomi-miot', 'electric-imp', ...ordered.slice(4).map((c) => c.classId)],
  );

  // No previous day: the previous and change columns are empty, not 0.
  const fresh = parseCsv(renderCsv(reportFixture({ withPrevious: false })));
  assert.ok(fresh.slice(1).every((r) => r[6] === '' && r[7] === ''));
});

test('csv: RFC 4180 quoting of hostile names, spreadsheet formulas neutralised', () => {
  const d = hostile();
  const rows = parseCsv(renderCsv(d));
  const byId = new Map(rows.slice(1).map((r) => [r[2]!, r]));
  const ring = byId.get('x"><script>alert(3)</script>')!;
  assert.equal(ring[3], d.classes.find((c) => c.classId.startsWith('x"'))!.name, 'comma, quotes and control characters survive quoting');
  const meross = [...byId.values()].find((r) => r[3]!.includes('HYPERLINK'))!;
  assert.equal(meross[3], `'=HYPERLINK("http://evil.example/","click")\r\nsecond line`);
  assert.equal(rows.length, d.classes.length + 1, 'an embedded line break does not add a row');
});

test('html: well-formed, self-contained, every class and chart present', () => {
  const d = reportFixture();
  const html = renderHtml(d);
  const { tags, ids, attributes } = checkWellFormed(html);
  assert.equal(renderHtml(d), html, 'deterministic');

  // Self-contained: nothing to fetch, nothing to run.
  assert.ok(!/https?:\/\//i.test(html), 'no http(s) URL anywhere');
  assert.ok(!/<(script|link|iframe|object|embed|img|image|use|base|form)\b/i.test(html), 'no element that loads or runs anything');
  for (const a of ['src', 'srcset', 'href', 'xlink:href', 'action', 'formaction', 'poster', 'data', 'background'])
    assert.ok(a === 'href' || !attributes.has(a), `no loading attribute ${a}`);
  for (const m of html.matchAll(/\shref="([^"]*)"/g)) assert.match(m[1]!, /^#[a-z-]+$/, 'links are in-page anchors');
  for (const m of html.matchAll(/\shref="#([^"]*)"/g)) assert.ok(ids.has(m[1]!), `anchor #${m[1]} exists`);
  assert.ok(!/url\(|@import/i.test(html), 'no CSS that loads anything');
  assert.ok(![...attributes].some((a) => a.startsWith('on')), 'no event handler attribute');
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none';/);

  // Headline numbers.
  assert.match(html, /id="kpi-active"><div class="label">[^<]*<\/div><div class="value">1,284,513</);
  assert.match(html, /id="kpi-detected"><div class="label">[^<]*<\/div><div class="value">231,402</);
  assert.match(html, /id="kpi-classes"><div class="label">[^<]*<\/div><div class="value">35</);
  assert.match(html, /id="kpi-quality"><div class="label">[^<]*<\/div><div class="value">3 problems</);
  assert.match(html, /class="banner bad" role="alert"/);

  // Charts: 3 bar charts, the change chart, the heatmap, one sparkline per class, 2 share bars.
  assert.equal((html.match(/<svg class="chart bars level-/g) ?? []).length, 3);
  assert.equal((html.match(/<svg class="chart changes"/g) ?? []).length, 1);
  assert.equal((html.match(/<svg class="chart heatmap"/g) ?? []).length, 1);
  assert.equal((html.match(/<svg class="spark"/g) ?? []).length, d.classes.length);
  assert.equal(tags.get('svg'), 3 + 1 + 1 + d.classes.length + 2);
  const detected = d.classes.filter((c) => c.detectedLines > 0);
  assert.equal((html.match(/<rect class="cell"/g) ?? []).length, detected.length * 24, 'heatmap: 24 cells per detected class');
  assert.equal((html.match(/<rect class="bar" /g) ?? []).length, detected.length, 'one bar per detected class');
  // Every chart is announced with a title and description.
  for (const m of html.matchAll(/<svg class="chart[^"]*"[^>]*aria-labelledby="([^"]+)"/g))
    for (const id of m[1]!.split(' ')) assert.ok(ids.has(id), `labelled by #${id}`);

  // Every class: a row in the table with its numbers, a bar-chart row and a heatmap row if detected.
  for (const c of d.classes) {
    const row = html.match(new RegExp(`<tr class="class[^"]*" data-class-id="${c.classId}" data-level="${c.level}">(.*?)</tr>`));
    assert.ok(row, `table row for ${c.classId}`);
    assert.ok(row[1]!.includes(`<td class="num lines">${fmtInt(c.detectedLines)}</td>`), `${c.classId} lines`);
    assert.ok(row[1]!.includes(`<td class="num">${fmtShare(c.shareOfActive).replace('<', '&lt;')}</td>`), `${c.classId} share`);
    assert.ok(row[1]!.includes(`<td class="num">${fmtInt(c.detectedLinesPrevious)}</td>`), `${c.classId} previous`);
    assert.ok(html.includes(`<g class="row${c.detectedLines === 0 ? ' zero' : ''}" data-class-id="${c.classId}"><title>`), `bar row for ${c.classId}`);
  }
  for (const n of d.hitlist.notDetectable) assert.ok(html.includes(`<td>${n.reason}</td>`), `reason for ${n.classId}`);
  assert.match(html, /<section id="quality" class="bad">/);
  assert.match(html, /<td class="bad">unknown, 1:1000<\/td><td class="num bad">1,284<\/td><td class="num bad">9,731 <span class="unit">packets<\/span><\/td>/);
  assert.match(html, /id="q-lost">[^<]*<strong>9,731 packets \(NetFlow v9\)<\/strong>; unknown for 1 exporter without ingest health/);

  // A clean day with no previous day: no change chart, quality section is calm.
  const calm = renderHtml(reportFixture({ clean: true, withPrevious: false }));
  checkWellFormed(calm);
  assert.ok(!calm.includes('chart changes') && !calm.includes('role="alert"'));
  assert.match(calm, /<section id="quality" class="warn">/, 'only the no-previous-day notice');
  assert.match(renderHtml({ ...reportFixture({ clean: true }) }), /<section id="quality" class="ok">/);
});

test('html: hostile names from data files are text, never markup', () => {
  const d = hostile();
  const html = renderHtml(d);
  const { tags, attributes } = checkWellFormed(html);
  assert.deepEqual(
    [...tags.keys()].filter((t) => ['script', 'img', 'b', 'iframe'].includes(t)),
    [],
    'no injected element',
  );
  assert.ok(!/<script/i.test(html), 'no <script> element');
  assert.ok(!/<img/i.test(html) && !/<b>/.test(html) && !/<style>body/.test(html), 'no injected element');
  assert.ok(!/<svg onload/i.test(html));
  assert.ok(![...attributes].some((a) => a.startsWith('on')), 'no event handler attribute');
  assert.equal(tags.get('style'), 1, 'only our own <style>');
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt;, &quot;quoted&quot; &amp; &#39;single&#39;'));
  assert.ok(html.includes('data-class-id="x&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;"'));
  assert.ok(html.includes('&lt;/title&gt;&lt;script&gt;alert(4)&lt;/script&gt;'));
  assert.ok(html.includes('<code>&lt;svg onload=alert(5)&gt;</code>'));
});

test('renderers cope with an empty day (no class, no exporter, no hitlist)', () => {
  const d: ReportData = {
    day: '2026-01-01',
    generatedAt: '2026-01-02T00:00:00.000Z',
    previousDay: null,
    lines: { active: 0, activePrevious: null, withAnyDetection: 0 },
    classes: [],
    hitlist: {
      day: null,
      detectableClasses: 0,
      byLevel: { platform: 0, manufacturer: 0, product: 0 },
      notDetectable: [],
      dedicatedAddresses: 0,
      entries: 0,
      churn: null,
    },
    quality: { exporters: [], flowsTotal: 0, flowsMatched: 0, undecodableBatches: 0, unknownSamplingFlows: 0 },
  };
  const html = renderHtml(d);
  checkWellFormed(html);
  assert.match(html, /id="kpi-quality"><div class="label">[^<]*<\/div><div class="value">3 problems</);
  assert.ok(!html.includes('NaN') && !html.includes('Infinity'));
  const t = renderText(d);
  assert.match(t, /no flow record reached the detector/);
  assert.match(t, /no hitlist was in use/);
  assert.ok(!t.includes('NaN'));
  assert.deepEqual(parseCsv(renderCsv(d)).length, 1);
  const f = qualityFindings(d).map((x) => x.subject);
  assert.deepEqual(f, ['flows', 'lines', 'hitlist', 'report']);
});

test('an sFlow agent adds its sample losses and drops: columns in text and HTML, findings naming both', () => {
  const d = reportFixture({ clean: true });
  d.quality.exporters.push({
    exporter: '192.0.2.77',
    version: 133,
    observationDomain: 0,
    records: 12_000,
    samplingRates: [10000],
    sequenceGaps: 2,
    lost: 3,
    lostUnit: 'datagrams',
    malformed: 0,
    missingTemplateSets: 0,
    samplesLost: 41,
    sampleDrops: 1_500,
  });
  const t = renderText(d);
  assert.match(t, /exporter .* no template +samples lost +agent drops$/m);
  assert.match(t, /^ {2}192\.0\.2\.77 +sFlow v5 +0 +12,000 +1:10000 +2 +3 datagrams +0 +0 +41 +1,500$/m);
  // A NetFlow row leaves the sFlow columns blank.
  assert.match(t, /^ {2}192\.0\.2\.1 +NetFlow v9 .* 0 +0 packets +0 +0$/m);
  assert.match(t, /PROBLEM 192\.0\.2\.77 sFlow v5 domain 0: 2 sequence gap\(s\), 3 datagrams lost/);
  const f = qualityFindings(d).map((x) => x.message);
  assert.ok(f.some((x) => /41 sFlow sample\(s\) lost/.test(x)));
  assert.ok(f.some((x) => /dropped 1,500 packet\(s\)/.test(x)));
  const html = renderHtml(d);
  checkWellFormed(html);
  assert.match(html, /<th scope="col" class="num">sFlow samples lost<\/th><th scope="col" class="num">Agent drops<\/th>/);
  assert.match(html, /data-exporter="192\.0\.2\.77">.*<td class="num bad">41<\/td><td class="num bad">1,500<\/td><\/tr>/);
  // Without an sFlow agent the table keeps its usual columns.
  assert.ok(!renderHtml(reportFixture({ clean: true })).includes('Agent drops'));
});

test('text at an IXP: every class of a member, platforms too, wrapped under the member', () => {
  const data = reportFixture();
  const classes = Array.from({ length: 12 }, (_, i) => ({
    classId: `maker-${i}`,
    level: (i === 3 ? 'platform' : 'manufacturer') as 'platform' | 'manufacturer',
    hosts: 100 - i,
  }));
  data.ixp = {
    attribution: { mac: 10, as: 2, prefix: 1, none: 0 },
    members: [
      {
        asn: 64500,
        name: 'Alpha Broadband',
        iotHosts: 321,
        activeHosts: 4000,
        shareOfActive: 321 / 4000,
        estBytesToIot: 5e9,
        classes,
        hourly: new Array(24).fill(3),
      },
    ],
  };
  const text = renderText(data);
  const at = text.indexOf('AS64500 Alpha Broadband');
  assert.ok(at > 0);
  const block = text.slice(at).split('\n').slice(1, 4).join(' ');
  for (const c of classes) assert.ok(block.includes(`${c.classId}${c.level === 'platform' ? ' (platform)' : ''} ${c.hosts}`), c.classId);
  for (const l of text.slice(at).split('\n').slice(1, 4)) assert.ok(l.length <= 110, l);
  // Hosts and members, not subscriber lines.
  assert.match(text, /^Active hosts {2,}/m);
  assert.match(text, /^Hosts with any detection .* of active hosts$/m);
  assert.match(text, /a host is the end of a flow that is not on the hitlist: .*ixp\.hostPrefixLength6/);
  assert.doesNotMatch(text, /Active lines|subscriber/);
  const html = renderHtml(data);
  assert.match(html, /<div class="label">Active hosts<\/div>/);
  assert.match(html, /<div class="label">Hosts with any IoT detection<\/div>/);
  assert.doesNotMatch(html, /Active subscriber lines/);
});
