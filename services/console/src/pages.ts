import {
  backendsHtml,
  columnChart,
  escapeHtml as e,
  fmtInt,
  lineChart,
  lineSparkline,
  providerLabel,
  renderReportBody,
  type ReportData,
} from '@haystack/report';
import type { BackendsResponse } from './api-types.js';
import { HISTOGRAM_MINUTES, type AuditEntry, type HitlistBrowse, type LineDetection, type TimeToDetection, type Trends } from './queries.js';
import type { LiveQuality } from './live.js';
import type { DictionaryCoverage } from '@haystack/hitlist-contract';

/**
 * The console's pages: server-rendered HTML that works without JavaScript, charts as inline
 * SVG, one stylesheet served from /assets (the Content-Security-Policy allows nothing inline).
 * Each page renders what the JSON API returned for the same question.
 */

export const CONSOLE_CSS = `
:root{--fg:#212529;--muted:#6c757d;--line:#dee2e6;--bad:#c92a2a;--ok:#2b8a3e;--accent:#3b5bdb}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:#f8f9fa}
nav.top{display:flex;flex-wrap:wrap;gap:2px 14px;align-items:center;background:#1b1f24;color:#fff;padding:8px 20px}
nav.top a{color:#dee2e6;text-decoration:none;padding:4px 2px}nav.top a.here{color:#fff;border-bottom:2px solid #74c0fc}
nav.top .brand{font-weight:700;color:#fff;margin-right:10px}nav.top .who{margin-left:auto;color:#adb5bd}
.wrap{max-width:1100px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:22px 0 8px}
table.grid{border-collapse:collapse;width:100%;background:#fff}table.grid th,table.grid td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
table.grid td.num,table.grid th.num{text-align:right;font-variant-numeric:tabular-nums}
.up{color:var(--ok)}.down{color:var(--bad)}.muted{color:var(--muted)}.bad{color:var(--bad);font-weight:600}.unit{font-size:.85em;font-weight:400}
.card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px 16px;margin:10px 0}
form.inline{display:flex;flex-wrap:wrap;gap:8px;align-items:end;margin:8px 0}form.inline label{display:flex;flex-direction:column;font-size:12px;color:var(--muted)}
input,select,button{font:inherit;padding:4px 8px}button{cursor:pointer}
.refresh{font-size:12px;color:var(--muted)}.error{background:#fff5f5;border:1px solid #ffc9c9;color:var(--bad);padding:8px 12px;border-radius:6px}
svg.chart{background:#fff;border:1px solid var(--line);border-radius:6px;max-width:100%}
.kv{display:grid;grid-template-columns:max-content auto;gap:2px 16px}
code{font-family:"DejaVu Sans Mono",monospace;font-size:12.5px}
`;

const LEVEL_COLOR: Record<string, string> = { platform: '#3b5bdb', manufacturer: '#0b7285', product: '#c2255c' };
const PALETTE = ['#3b5bdb', '#0b7285', '#c2255c', '#e67700', '#5f3dc4', '#2b8a3e', '#d6336c', '#1098ad', '#f76707', '#495057'];

export interface PageContext {
  path: string;
  who: string | null;
  lookupEnabled: boolean;
  /** Seconds: a page showing today's numbers reloads itself (a meta refresh, no script). */
  refreshSeconds?: number;
  /** What a detection unit is called: subscriber lines (ISP) or end hosts (IXP, deployment: ixp). */
  unit?: 'line' | 'host';
  /** The day the page was asked for (YYYY-MM-DD), carried by the navigation to the other pages. */
  day?: string;
}

/** A navigation link for the day being looked at: each page takes the day its own way. */
function navHref(href: string, day: string | undefined): string {
  if (!day) return href;
  switch (href) {
    case '/':
      return `/day/${day}`;
    case '/trends':
    case '/time-to-detection':
      return `${href}?to=${day}`;
    case '/hitlist':
    case '/quality':
    case '/backends':
      return `${href}?day=${day}`;
    default:
      return href;
  }
}

const unitWords = (ctx: PageContext) => (ctx.unit === 'host' ? { one: 'host', many: 'hosts', Many: 'Hosts' } : { one: 'line', many: 'lines', Many: 'Lines' });

const NAV: [string, string][] = [
  ['/', 'Today'],
  ['/trends', 'Trends'],
  ['/time-to-detection', 'Time to detection'],
  ['/hitlist', 'Hitlist'],
  ['/backends', 'Backends'],
  ['/quality', 'Data quality'],
  ['/lookup', 'Line lookup'],
  ['/api/openapi.json', 'API'],
];

function page(title: string, ctx: PageContext, body: string, extraCss: string[] = []): string {
  const nav = NAV.filter(([href]) => href !== '/lookup' || ctx.lookupEnabled)
    .map(
      ([href, label]) =>
        `<a href="${e(navHref(href, ctx.day))}"${ctx.path === href || (href !== '/' && ctx.path.startsWith(href)) ? ' class="here"' : ''}>${e(href === '/lookup' && ctx.unit === 'host' ? 'Host lookup' : label)}</a>`,
    )
    .join('');
  const who = ctx.who
    ? `<form class="who" method="post" action="/logout"><span>${e(ctx.who)}</span> <button type="submit">Sign out</button></form>`
    : `<a class="who" href="/login">Sign in</a>`;
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    ctx.refreshSeconds ? `<meta http-equiv="refresh" content="${ctx.refreshSeconds}">` : '',
    `<title>${e(title)} · Haystack console</title>`,
    '<link rel="stylesheet" href="/assets/console.css">',
    ...extraCss.map((href) => `<link rel="stylesheet" href="${e(href)}">`),
    '</head><body>',
    `<nav class="top" aria-label="Console"><span class="brand">Haystack</span>${nav}${who}</nav>`,
    `<div class="wrap">${body}</div>`,
    '</body></html>',
  ].join('\n');
}

export function errorPage(ctx: PageContext, status: number, message: string): string {
  return page(`Error ${status}`, ctx, `<h1>${status === 404 ? 'Not found' : 'Cannot show this page'}</h1><p class="error" role="alert">${e(message)}</p>`);
}

/** The day report: the same body as `haystack report --format html`, inside the console. */
export function dayPage(ctx: PageContext, data: ReportData, today: boolean): string {
  const picker =
    `<form class="inline" method="get" action="/day"><label>Day (UTC)<input type="date" name="day" value="${e(data.day)}" required></label><button type="submit">Show</button>` +
    (today
      ? `<span class="refresh" id="live">live: today so far, refreshed every ${ctx.refreshSeconds ?? 30} s · generated ${e(data.generatedAt)}</span>`
      : '') +
    '</form>';
  return page(`Report ${data.day}`, ctx, `${picker}<main class="report">${renderReportBody(data)}</main>`, ['/assets/report.css']);
}

const pct = (x: number | null) => (x === null ? '–' : `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)}%`);
const signed = (n: number) => `${n >= 0 ? '+' : '−'}${fmtInt(Math.abs(n))}`;

export function trendsPage(ctx: PageContext, t: Trends): string {
  const o: string[] = [];
  const u = unitWords(ctx);
  o.push(`<h1>Trends <span class="muted">${e(t.from)} – ${e(t.to)}</span></h1>`);
  o.push(
    `<form class="inline" method="get" action="/trends"><label>Days<input type="number" name="days" min="2" max="366" value="${t.days.length}"></label>` +
      `<label>Up to<input type="date" name="to" value="${e(t.to)}"></label><button type="submit">Show</button></form>`,
  );
  // The last day of the range that holds data: the table's figures and the change are of it.
  const lastDay = t.activeLines.findLastIndex((v) => v !== null);
  const missing = t.activeLines.filter((v) => v === null).length;
  if (missing > 0 && lastDay >= 0)
    o.push(
      `<p class="note" id="trends-gaps">${fmtInt(missing)} of the ${fmtInt(t.days.length)} days hold no stored data: shaded in the charts, left out of the changes.</p>`,
    );
  if (lastDay < 0) o.push('<p class="card">No data stored in this range.</p>');
  o.push(
    lineChart({
      id: 'chart-active',
      title: `Active ${u.many} per day`,
      days: t.days,
      series: [{ name: `active ${u.many}`, color: '#495057', values: t.activeLines }],
    }),
  );
  for (const level of ['platform', 'manufacturer', 'product'] as const) {
    const list = t.classes.filter((c) => c.level === level);
    if (list.length === 0) continue;
    o.push(`<h2>${level === 'platform' ? 'Platforms' : level === 'manufacturer' ? 'Manufacturers' : 'Products'}</h2>`);
    o.push(
      lineChart({
        id: `chart-${level}`,
        title: `Detected ${u.many} per day: ${level} classes (top ${Math.min(8, list.length)})`,
        days: t.days,
        series: list.slice(0, 8).map((c, i) => ({ name: c.name, color: PALETTE[i % PALETTE.length]!, values: c.lines })),
      }),
    );
    o.push(
      `<table class="grid"><thead><tr><th>Class</th><th class="num">${u.Many} (${lastDay >= 0 ? e(t.days[lastDay]!) : 'last day'})</th><th class="num">Change</th><th class="num">Relative</th><th>Over the range</th></tr></thead><tbody>`,
    );
    for (const c of list) {
      o.push(
        `<tr data-class="${e(c.classId)}"><td>${e(c.name)} <span class="muted">${e(c.classId)}</span></td><td class="num">${fmtInt(lastDay >= 0 ? c.lines[lastDay] : null)}</td>` +
          `<td class="num ${c.change > 0 ? 'up' : c.change < 0 ? 'down' : ''}">${signed(c.change)}</td><td class="num">${pct(c.relativeChange)}</td><td>${lineSparkline(c.lines, LEVEL_COLOR[level])}</td></tr>`,
      );
    }
    o.push('</tbody></table>');
  }
  if (t.classes.length === 0 && lastDay >= 0) o.push('<p class="card">No detection stored in this range.</p>');
  return page('Trends', ctx, o.join('\n'));
}

export function ttdPage(ctx: PageContext, t: TimeToDetection): string {
  const o: string[] = [];
  const u = unitWords(ctx);
  o.push(`<h1>Time to detection <span class="muted">${e(t.from)} – ${e(t.to)}</span></h1>`);
  o.push(
    `<p>For each ${u.one} that starts hosting a class: minutes from the first evidence of the class on that day to its detection within an hourly window. ` +
      `${u.Many} the hourly windows never caught, detected only by the daily window, are counted apart.</p>`,
  );
  o.push(
    `<form class="inline" method="get" action="/time-to-detection"><label>Days<input type="number" name="days" min="1" max="366" value="${Math.round((Date.parse(t.to) - Date.parse(t.from)) / 86_400_000) + 1}"></label>` +
      `<label>Up to<input type="date" name="to" value="${e(t.to)}"></label><button type="submit">Show</button></form>`,
  );
  const labels = [...HISTOGRAM_MINUTES.map((m) => `≤${m >= 60 ? `${m / 60}h` : `${m}m`}`), `>${HISTOGRAM_MINUTES[HISTOGRAM_MINUTES.length - 1]! / 60}h`];
  const all = new Array<number>(labels.length).fill(0);
  for (const c of t.classes) c.histogram.forEach((v, i) => (all[i]! += v));
  o.push(
    columnChart({
      id: 'chart-ttd',
      title: `${u.Many} by time to detection (all classes)`,
      labels,
      values: all,
      xLabel: `minutes (m) or hours (h) from the first evidence to the hourly detection; a bar counts ${u.many}`,
      width: 640,
      height: 180,
    }),
  );
  const filled = all.flatMap((v, i) => (v > 0 ? [i] : []));
  if (filled.length === 1) {
    // One bar looks like a broken chart: say why it is one.
    const b = labels[filled[0]!]!;
    o.push(
      `<p class="note" id="ttd-one-bar">One bar: every hourly detection in this range came ${e(b === labels[0] ? `within ${b.slice(1)}` : b)} of its first evidence. ` +
        `Classes whose rule needs one domain are detected at their first matching flow, so with such rules the delays all fall in the first bucket; ` +
        `the delay grows only for rules that need several domains within the hour.</p>`,
    );
  }
  o.push(
    '<table class="grid"><thead><tr><th>Class</th><th>Level</th><th class="num">Detected hourly</th><th class="num">Median min</th><th class="num">p25 – p75</th><th class="num">p90</th><th class="num">Daily window only</th><th>Distribution</th></tr></thead><tbody>',
  );
  for (const c of t.classes) {
    const m = c.minutes;
    o.push(
      `<tr data-class="${e(c.classId)}"><td>${e(c.name)}</td><td>${e(c.level)}</td><td class="num">${fmtInt(c.detectedHourly)}</td>` +
        `<td class="num">${m ? m.p50.toFixed(0) : '–'}</td><td class="num">${m ? `${m.p25.toFixed(0)} – ${m.p75.toFixed(0)}` : '–'}</td><td class="num">${m ? m.p90.toFixed(0) : '–'}</td>` +
        `<td class="num">${fmtInt(c.dailyOnly)}</td><td>${lineSparkline(c.histogram, LEVEL_COLOR[c.level], 90, 20)}</td></tr>`,
    );
  }
  o.push('</tbody></table>');
  if (t.classes.length === 0) o.push('<p class="card">No detection stored in this range.</p>');
  return page('Time to detection', ctx, o.join('\n'));
}

/** The dictionary's coverage: what can be detected at all, per maker and platform. */
function coverageSection(cov: DictionaryCoverage | string, classId: string | undefined): string {
  const o: string[] = [];
  o.push('<h2>IoT dictionary</h2>');
  if (typeof cov === 'string') {
    o.push(`<p class="card bad" id="dictionary">${e(cov)}</p>`);
    return o.join('\n');
  }
  o.push(
    `<p class="muted" id="dictionary">Updated ${e(cov.updated ?? '(no date)')} · digest <code>${e(cov.digest.slice(0, 12))}</code> · ${fmtInt(cov.makers)} makers, ` +
      `${fmtInt(cov.platforms)} platforms, ${fmtInt(cov.products)} products, ${fmtInt(cov.families)} families, ${fmtInt(cov.sources)} sources. ` +
      'The finest level the dictionary can evidence; the build above decides with passive DNS what is dedicated.</p>',
  );
  o.push(
    '<table class="grid" id="coverage"><thead><tr><th>Maker / platform</th><th>Kind</th><th>Finest level</th><th class="num">Products</th><th>Families</th><th>Regions</th><th>Sources</th><th>Note</th></tr></thead><tbody>',
  );
  for (const m of cov.entries.filter((x) => !classId || x.id === classId || x.products.some((p) => p.id === classId)))
    o.push(
      `<tr data-maker="${e(m.id)}"><td>${e(m.name)}</td><td>${e(m.kind)}</td><td class="${m.level ? '' : 'bad'}">${e(m.level ?? 'not detectable')}</td>` +
        `<td class="num">${fmtInt(m.products.length)}</td><td>${m.families.map((f) => `<code>${e(f)}</code>`).join(' ') || '–'}</td>` +
        `<td>${e(m.regions.join(' ') || '–')}</td><td>${e(m.sources.join(', '))}</td><td>${e(m.note || '–')}</td></tr>`,
    );
  o.push('</tbody></table>');
  return o.join('\n');
}

export function hitlistPage(ctx: PageContext, h: HitlistBrowse, day: string, classId: string | undefined, cov: DictionaryCoverage | string): string {
  const o: string[] = [];
  o.push(`<h1>Hitlist ${h.day ? e(h.day) : ''}${classId ? ` <span class="muted">class ${e(classId)}</span>` : ''}</h1>`);
  o.push(
    `<form class="inline" method="get" action="/hitlist"><label>Day<input type="date" name="day" value="${e(day)}"></label>` +
      `<label>Class<input type="text" name="class" value="${e(classId ?? '')}" pattern="[a-z0-9][a-z0-9._-]*" maxlength="64"></label><button type="submit">Show</button></form>`,
  );
  if (!h.day) {
    o.push('<p class="card">No hitlist build recorded on or before this day (`haystack hitlist build` records each build in this database).</p>');
    o.push(coverageSection(cov, classId));
    return page('Hitlist', ctx, o.join('\n'));
  }
  o.push(
    `<p class="muted">Built ${e(h.builtAt)} · ${fmtInt(h.entriesTotal)} dedicated (address, port, transport) entries${classId ? ' of this class' : ''}</p>`,
  );
  if (h.churn.length > 1) {
    o.push('<h2>Churn over days</h2>');
    o.push(
      lineChart({
        id: 'chart-churn',
        title: 'Hitlist entries, added and removed per build',
        days: h.churn.map((c) => c.day),
        series: [
          { name: 'entries', color: '#3b5bdb', values: h.churn.map((c) => c.entries) },
          { name: 'added', color: '#2b8a3e', values: h.churn.map((c) => c.added) },
          { name: 'removed', color: '#c92a2a', values: h.churn.map((c) => c.removed) },
        ],
        height: 200,
      }),
    );
  }
  o.push('<h2>Classes and the build’s decisions</h2>');
  o.push(
    '<table class="grid"><thead><tr><th>Class</th><th>Level</th><th>Status</th><th class="num">Addresses</th><th class="num">Dedicated primary domains</th><th>Reason</th></tr></thead><tbody>',
  );
  for (const c of h.classes.filter((x) => !classId || x.classId === classId))
    o.push(
      `<tr data-class="${e(c.classId)}"><td><a href="/hitlist?day=${e(day)}&amp;class=${encodeURIComponent(c.classId)}">${e(c.classId)}</a></td><td>${e(c.kind)}</td>` +
        `<td class="${c.status === 'detectable' ? '' : 'bad'}">${e(c.status)}</td><td class="num">${fmtInt(c.addresses)}</td><td class="num">${fmtInt(c.dedicatedPrimary)} of ${fmtInt(c.primaryDomains)}</td><td>${e(c.reason)}</td></tr>`,
    );
  o.push('</tbody></table>');
  o.push('<h2>Domains</h2>');
  o.push(
    '<table class="grid"><thead><tr><th>Domain</th><th>Role</th><th>Status</th><th>Via</th><th>Used by</th><th class="num">Addresses</th><th>Reason</th></tr></thead><tbody>',
  );
  for (const d of h.domains.slice(0, 1000))
    o.push(
      `<tr><td><code>${e(d.domain)}</code></td><td>${e(d.role)}</td><td class="${d.status === 'dedicated' || d.status === 'used' ? '' : 'muted'}">${e(d.status)}</td><td>${e(d.via)}</td><td>${e(d.usedBy.join(', '))}</td><td class="num">${fmtInt(d.addresses)}</td><td>${e(d.reason)}</td></tr>`,
    );
  o.push('</tbody></table>');
  o.push(`<h2>Dedicated addresses and ports <span class="muted">(${fmtInt(h.entries.length)} of ${fmtInt(h.entriesTotal)} shown)</span></h2>`);
  o.push('<table class="grid"><thead><tr><th>Address</th><th class="num">Port</th><th>Transport</th><th>Domains</th><th>Classes</th></tr></thead><tbody>');
  for (const x of h.entries)
    o.push(
      `<tr><td><code>${e(x.address)}</code></td><td class="num">${x.port}</td><td>${e(x.transport)}</td><td>${x.domains.map((d) => `<code>${e(d)}</code>`).join(', ')}</td><td>${e(x.classIds.join(', '))}</td></tr>`,
    );
  o.push('</tbody></table>');
  o.push(coverageSection(cov, classId));
  return page('Hitlist', ctx, o.join('\n'));
}

export function qualityPage(ctx: PageContext, q: LiveQuality): string {
  const o: string[] = [];
  o.push(`<h1>Data quality <span class="muted">${q.live ? 'live' : `stored, ${e(q.day)}`}</span></h1>`);
  o.push(
    `<form class="inline" method="get" action="/quality"><label>Day<input type="date" name="day" value="${e(q.day)}"></label><button type="submit">Show</button></form>`,
  );
  o.push(
    `<p class="refresh" id="live">${q.live ? `counters of this process since ${e(q.since)}, ` : ''}as of ${e(q.at)}${ctx.refreshSeconds ? `; refreshed every ${ctx.refreshSeconds} s` : ''}</p>`,
  );
  const kv = (k: string, v: string, bad = false) => `<div>${e(k)}</div><div class="${bad ? 'bad' : ''}" data-k="${e(k)}">${v}</div>`;
  o.push('<div class="card kv">');
  // Stored: what the detector received (the report's "flows"); live: what this process decoded.
  o.push(kv(q.live ? 'records decoded' : 'flow records received by the detector', fmtInt(q.recordsDecoded)));
  o.push(kv('socket drops (kernel)', q.socketDrops === null ? '–' : fmtInt(q.socketDrops), (q.socketDrops ?? 0) > 0));
  // Each protocol's sequence numbers count their own unit: summed per unit, never across.
  const lost = new Map<string, number>();
  for (const x of q.exporters) {
    if (x.lost) lost.set(x.lostUnit, (lost.get(x.lostUnit) ?? 0) + x.lost);
    if (x.samplesLost) lost.set('sFlow samples', (lost.get('sFlow samples') ?? 0) + x.samplesLost);
  }
  o.push(kv('lost between exporters and collector', lost.size ? [...lost].map(([unit, n]) => `${fmtInt(n)} ${e(unit)}`).join(' · ') : 'none', lost.size > 0));
  o.push(
    kv(
      'consumer lag (flows not yet taken in)',
      q.consumerLag === null ? (q.kafka ? '– (Kafka: below)' : '–') : fmtInt(q.consumerLag),
      (q.consumerLag ?? 0) > 100_000,
    ),
  );
  if (q.kafka) {
    const k = q.kafka;
    o.push(
      'error' in k
        ? kv('Kafka consumer lag', `unknown: ${e(k.error)}`, true)
        : kv(
            `Kafka consumer lag (group ${k.groupId}, topic ${k.topic})`,
            `${fmtInt(k.batches)} batches${k.partitions.some((p) => p.committed === null) ? ` (${k.partitions.filter((p) => p.committed === null).length} partition(s) never committed: all they retain counts)` : ''}`,
            k.batches > 1_000,
          ),
    );
  }
  o.push(kv('storage backlog (flows taken in, not yet stored)', q.storageBacklog === null ? '–' : fmtInt(q.storageBacklog), (q.storageBacklog ?? 0) > 500_000));
  o.push(kv('insert failures', q.insertFailures === null ? '–' : fmtInt(q.insertFailures), (q.insertFailures ?? 0) > 0));
  o.push('</div>');
  o.push(
    '<table class="grid" id="exporters"><thead><tr><th>Exporter</th><th>Protocol</th><th class="num">Domain</th><th class="num">Records</th><th>Sampling</th>' +
      '<th class="num">Sequence gaps</th><th class="num">Lost</th><th class="num">Malformed</th><th class="num">Sets without template</th><th class="num">sFlow samples lost</th><th class="num">Agent drops</th></tr></thead><tbody>',
  );
  for (const x of q.exporters) {
    // No health snapshot of this exporter on the day: its counters are unknown, not zero (as in the report).
    const known = x.healthKnown !== false;
    const cell = (v: number, unit?: string) =>
      known
        ? `<td class="num${v > 0 ? ' bad' : ''}">${fmtInt(v)}${unit ? ` <span class="unit">${e(unit)}</span>` : ''}</td>`
        : '<td class="num muted" title="no health snapshot arrived">–</td>';
    const rates = x.samplingRates ?? (x.samplingRate ? [x.samplingRate] : []);
    const sampling = rates.filter((r) => r > 0).map((r) => `1:${fmtInt(r)}`);
    if (rates.includes(0) || rates.length === 0) sampling.push('<span class="bad">unknown</span>');
    o.push(
      `<tr data-exporter="${e(x.exporter)}"><td><code>${e(x.exporter)}</code></td><td>${e(x.version === 10 ? 'IPFIX' : x.version === 133 ? 'sFlow v5' : `NetFlow v${x.version}`)}</td><td class="num">${x.domain}</td>` +
        `<td class="num records">${fmtInt(x.records)}</td><td>${sampling.join(', ')}</td>` +
        `${cell(x.sequenceGaps)}${cell(x.lost, x.lostUnit)}${cell(x.malformed)}${cell(x.missingTemplateSets)}${cell(x.samplesLost)}${cell(x.sampleDrops)}</tr>`,
    );
  }
  o.push('</tbody></table>');
  if (q.exporters.length === 0) o.push('<p class="card">No exporter has sent anything yet.</p>');
  if (q.kafka && 'partitions' in q.kafka) {
    o.push(
      '<table class="grid" id="kafka-lag"><thead><tr><th class="num">Partition</th><th class="num">High watermark</th><th class="num">Committed</th><th class="num">Lag (batches)</th></tr></thead><tbody>',
    );
    for (const p of q.kafka.partitions)
      o.push(
        `<tr><td class="num">${p.partition}</td><td class="num">${fmtInt(p.high)}</td><td class="num">${p.committed === null ? '–' : fmtInt(p.committed)}</td>` +
          `<td class="num">${fmtInt(p.lag)}${p.committed === null ? ' <span class="muted">(never committed)</span>' : ''}</td></tr>`,
      );
    o.push('</tbody></table>');
  }
  return page('Data quality', ctx, o.join('\n'));
}

export function loginPage(ctx: PageContext, next: string, message?: string): string {
  return page(
    'Sign in',
    ctx,
    `<h1>Sign in</h1>${message ? `<p class="error" role="alert">${e(message)}</p>` : ''}` +
      `<form method="post" action="/login" class="card"><input type="hidden" name="next" value="${e(next)}">` +
      `<label>Console token <input type="password" name="token" autocomplete="current-password" required minlength="24" maxlength="512"></label> <button type="submit">Sign in</button></form>` +
      '<p class="muted">Tokens are in the console tokens file (<code>console.tokensFile</code>, by default <code>&lt;stateDir&gt;/console/tokens</code>).</p>',
  );
}

export function lookupPage(
  ctx: PageContext,
  form: { query: string; from: string; to: string },
  result?: { lines: number; results: LineDetection[]; raw: boolean },
  error?: string,
  audit?: AuditEntry[],
): string {
  const o: string[] = [];
  const u = unitWords(ctx);
  const host = ctx.unit === 'host';
  o.push(`<h1>${host ? 'Host' : 'Line'} lookup</h1>`);
  o.push(
    `<p class="muted">For the support and abuse desks: the IoT classes detected on ${host ? 'a host behind a member network (an IPv4 address or IPv6 /64)' : 'a subscriber line'}, when, and the evidence. Personal data: every lookup is written to the audit log with your name.</p>`,
  );
  o.push(
    `<form class="inline" method="post" action="/lookup"><label>Address, prefix or ${u.one} id<input type="text" name="query" value="${e(form.query)}" required maxlength="100"></label>` +
      `<label>From<input type="date" name="from" value="${e(form.from)}" required></label><label>To<input type="date" name="to" value="${e(form.to)}" required></label><button type="submit">Look up</button></form>`,
  );
  if (error) o.push(`<p class="error" role="alert">${e(error)}</p>`);
  if (result) {
    o.push(
      `<p id="lookup-summary">${fmtInt(result.lines)} ${u.one}(s) searched, ${fmtInt(result.results.length)} detection(s).${result.raw ? '' : ` ${u.Many} are shown as their pseudonyms (detector.rawLineIds is off).`}</p>`,
    );
    o.push(
      `<table class="grid" id="lookup-results"><thead><tr><th>Day</th><th>${host ? 'Host' : 'Line'}</th><th>Class</th><th>Level</th><th>First detected</th><th>Windows</th><th>Evidence domains</th></tr></thead><tbody>`,
    );
    for (const r of result.results)
      o.push(
        `<tr><td>${e(r.day)}</td><td><code>${e(r.line)}</code></td><td>${e(r.classId)}</td><td>${e(r.level)}</td><td>${e(r.firstDetectedAt)}</td><td>${e(r.windows.join(' '))}</td><td>${e(r.domains.join(', '))}</td></tr>`,
      );
    o.push('</tbody></table>');
  }
  if (audit?.length) {
    o.push(
      '<h2>Recent lookups (audit log)</h2><table class="grid"><thead><tr><th>When</th><th>Who</th><th>Query</th><th>Days</th><th class="num">Results</th><th>Allowed</th></tr></thead><tbody>',
    );
    for (const a of audit)
      o.push(
        `<tr><td>${e(a.at)}</td><td>${e(a.who)}</td><td><code>${e(a.query)}</code></td><td>${e(a.from)} – ${e(a.to)}</td><td class="num">${fmtInt(a.results)}</td><td>${a.allowed ? 'yes' : '<span class="bad">refused</span>'}</td></tr>`,
      );
    o.push('</tbody></table>');
  }
  return page(host ? 'Host lookup' : 'Line lookup', ctx, o.join('\n'));
}

/** Where the IoT traffic goes: the day's figures (the report's section) and, over the trend range, bytes per provider and the share leaving the country. */
export function backendsPage(ctx: PageContext, r: BackendsResponse, names: Map<string, string>): string {
  const o: string[] = [];
  o.push(`<h1>Where the IoT traffic goes <span class="muted">${e(r.day)}</span></h1>`);
  o.push(
    `<form class="inline" method="get" action="/backends"><label>Day<input type="date" name="day" value="${e(r.day)}"></label>` +
      `<label>Days of trend<input type="number" name="days" min="1" max="366" value="${r.trend.days.length}"></label><button type="submit">Show</button></form>`,
  );
  if (!r.figures)
    o.push(
      '<p class="card">No backend data for this day: the hitlist that served it was built without it (config backends.enabled), or no hitlist was recorded in this database.</p>',
    );
  if (r.trend.providers.length) {
    o.push(
      lineChart({
        id: 'chart-backends-providers',
        title: 'Bytes to IoT backends per day, by provider',
        days: r.trend.days,
        series: r.trend.providers.slice(0, 8).map((p, i) => ({
          name: providerLabel({ key: p.key, label: p.key, estBytes: 0, flows: 0, share: 0, lines: 0 }),
          color: PALETTE[i % PALETTE.length]!,
          values: p.estBytes,
        })),
      }),
    );
    if (r.trend.outsideCountry.some((v) => v !== null))
      o.push(
        lineChart({
          id: 'chart-backends-leaving',
          title: `Share of the bytes leaving ${r.figures?.homeCountry ?? 'the country'}, per day (%)`,
          days: r.trend.days,
          series: [
            { name: 'leaving the country (%)', color: '#c92a2a', values: r.trend.outsideCountry.map((v) => (v === null ? null : Math.round(v * 1000) / 10)) },
          ],
          height: 200,
        }),
      );
  }
  o.push(`<main class="report">${backendsHtml(r.figures ?? undefined, { hosts: ctx.unit === 'host', names })}</main>`);
  return page('Backends', ctx, o.join('\n'), ['/assets/report.css']);
}
