import { backendsHtml } from './backends.js';
import type { ReportData } from './data.js';
import { colorOf, r1, resetSvgIds, svg } from './charts.js';
import { CSS } from './css.js';
import { exportersWithoutHealth, fmtLossTotals, qualityFindings, qualityHeadline } from './findings.js';
import {
  type Change,
  HOST_MEANING,
  LEVELS,
  LEVEL_TITLE,
  LINE_MEANING,
  MINUS,
  SFLOW_VERSION,
  change,
  classesOf,
  fmtBytes,
  fmtChange,
  fmtInt,
  fmtRates,
  fmtShare,
  hasSflow,
  hours,
  orderedClasses,
  versionName,
  escapeHtml as e,
} from './format.js';
import { changeChart, classBars, heatmap, memberSpark, shareBar, sparkSvg } from './report-charts.js';

/** IXP: members ranked by IoT hosts, a bar each, and their classes. */
function membersHtml(data: ReportData): string {
  const x = data.ixp;
  if (!x) return '';
  const o: string[] = [];
  const a = x.attribution;
  const top = x.members.slice(0, 20);
  const max = Math.max(1, ...top.map((m) => m.iotHosts));
  const rowH = 22;
  const bars = top
    .map((m, i) => {
      const w = r1((m.iotHosts / max) * 360);
      const label = m.asn === 0 ? '(unattributed)' : `AS${m.asn} ${m.name}`;
      return (
        `<text x="0" y="${i * rowH + 15}" class="lbl">${e(label.length > 34 ? `${label.slice(0, 33)}…` : label)}</text>` +
        `<rect x="250" y="${i * rowH + 4}" width="${w}" height="14" fill="#0b7285"><title>${e(label)}: ${fmtInt(m.iotHosts)} IoT hosts</title></rect>` +
        `<text x="${r1(256 + w)}" y="${i * rowH + 15}" class="val">${fmtInt(m.iotHosts)}</text>`
      );
    })
    .join('');
  o.push('<section id="members">');
  o.push('<h2>Members</h2>');
  o.push(
    `<p>IoT hosts (IPv4 addresses, IPv6 /64s) detected behind each member network on the day. Hosts attributed by router MAC ${fmtInt(a.mac)}, by the flow's AS ${fmtInt(a.as)}, by the route table ${fmtInt(a.prefix)}; unattributed ${fmtInt(a.none)}.</p>`,
  );
  o.push(svg(660, top.length * rowH + 6, 'IoT hosts per member', `Members ranked by IoT hosts (top ${top.length})`, bars, 'chart members'));
  o.push('<div class="scroll"><table class="members"><caption>Members ranked by IoT hosts; classes with their hosts</caption>');
  o.push(
    '<thead><tr><th scope="col">Member</th><th scope="col" class="num">IoT hosts</th><th scope="col" class="num">% of active hosts</th><th scope="col" class="num">Traffic to IoT backends</th><th scope="col">Hourly (UTC)</th><th scope="col">Classes</th></tr></thead><tbody>',
  );
  for (const m of x.members) {
    const classes = m.classes.map((c) => `<span class="cls ${e(c.level)}" data-class-id="${e(c.classId)}">${e(c.classId)} ${fmtInt(c.hosts)}</span>`).join(' ');
    o.push(
      `<tr data-member-asn="${m.asn}"><th scope="row">${m.asn === 0 ? '(unattributed)' : `AS${m.asn} ${e(m.name)}`}</th><td class="num">${fmtInt(m.iotHosts)}</td>` +
        `<td class="num" title="${fmtInt(m.activeHosts)} active hosts">${e(fmtShare(m.shareOfActive))}</td><td class="num">${e(fmtBytes(m.estBytesToIot))}</td><td>${memberSpark(m)}</td><td>${classes}</td></tr>`,
    );
  }
  o.push('</tbody></table></div>');
  o.push('</section>');
  return o.join('\n');
}

function changeHtml(c: Change): string {
  if (c.kind === 'na') return '<span class="na">n/a</span>';
  if (c.kind === 'same') return '<span class="same">±0</span>';
  const cls = c.abs! > 0 ? 'up' : 'down';
  const arrow = c.abs! > 0 ? '▲' : '▼';
  return `<span class="${cls}">${arrow} ${e(fmtChange(c, MINUS))}</span>`;
}

/** One self-contained HTML page (inline CSS and SVG, no script, no external resource). */
export function renderHtml(data: ReportData): string {
  const o: string[] = [];
  o.push('<!DOCTYPE html>');
  o.push('<html lang="en">');
  o.push('<head>');
  o.push('<meta charset="utf-8">');
  o.push('<meta name="viewport" content="width=device-width, initial-scale=1">');
  // Nothing on this page may load or run anything, even if an escaping bug let markup through.
  o.push(
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">`,
  );
  o.push('<meta name="color-scheme" content="light">');
  o.push('<meta name="generator" content="haystack report">');
  o.push(`<title>Haystack IoT detection report ${e(data.day)}</title>`);
  o.push(`<style>${CSS}</style>`);
  o.push('</head>');
  o.push('<body>');
  o.push('<main>');
  o.push(renderReportBody(data));
  o.push('</main>');
  o.push('</body>');
  o.push('</html>');
  return o.join('\n') + '\n';
}

/** The report's stylesheet: inline in the file report, served as a file by the console (strict CSP). */
export const REPORT_CSS = CSS;

/** The report's content (what goes inside <main>), shared by the file report and the console's day page. */
export function renderReportBody(data: ReportData): string {
  resetSvgIds();
  const l = data.lines;
  const h = data.hitlist;
  const q = data.quality;
  const findings = qualityFindings(data);
  const problems = findings.filter((f) => f.severity === 'problem');
  const notices = findings.filter((f) => f.severity === 'notice');
  const status = problems.length ? 'bad' : notices.length || exportersWithoutHealth(data) ? 'warn' : 'ok';
  const plural = (n: number, w: string) => `${fmtInt(n)} ${w}${n === 1 ? '' : w.endsWith('s') ? 'es' : 's'}`;
  const activeCh = change(l.active, l.activePrevious);
  const anyShare = l.active ? l.withAnyDetection / l.active : NaN;
  const ordered = orderedClasses(data);

  const o: string[] = [];

  // Header and headline numbers.
  o.push('<header>');
  o.push('<div class="eyebrow">Haystack · daily IoT detection report</div>');
  o.push(`<h1 id="day">${e(data.day)} <span class="muted">UTC</span></h1>`);
  o.push(
    `<p class="meta">Generated ${e(data.generatedAt)} · ${data.previousDay ? `compared with ${e(data.previousDay)}` : 'no previous day to compare with'} · ` +
      `${h.day ? `hitlist of ${e(h.day)}` : '<strong>no hitlist</strong>'}</p>`,
  );
  o.push('</header>');
  if (problems.length)
    o.push(
      `<div class="banner bad" role="alert">⚠ Data quality: ${plural(problems.length, 'problem')} in the input of this report; some numbers may be incomplete. <a href="#quality">See data quality</a>.</div>`,
    );

  o.push('<section class="kpis" aria-label="Headline numbers">');
  // At an IXP the unit is a host behind a member network, not a subscriber line.
  const ixp = data.ixp !== undefined;
  const unit = ixp ? 'hosts' : 'lines';
  o.push(
    `<div class="kpi" id="kpi-active"><div class="label">${ixp ? 'Active hosts' : 'Active subscriber lines'}</div><div class="value">${fmtInt(l.active)}</div>` +
      `<div class="sub">${activeCh.kind === 'na' ? 'no previous day' : `${changeHtml(activeCh)} vs ${e(data.previousDay ?? '')}`}</div>` +
      `<div class="sub" title="${e(ixp ? HOST_MEANING : LINE_MEANING)}">${ixp ? 'a host: one IPv4 address or IPv6 prefix behind a member' : 'a line: one IPv4 address or IPv6 prefix'}</div></div>`,
  );
  o.push(
    `<div class="kpi" id="kpi-detected"><div class="label">${ixp ? 'Hosts' : 'Lines'} with any IoT detection</div><div class="value">${fmtInt(l.withAnyDetection)}</div>` +
      `<div class="sub">${e(fmtShare(anyShare))} of active ${unit}</div>` +
      shareBar(
        [
          { value: l.withAnyDetection, color: '#3b5bdb', label: `with an IoT detection: ${fmtInt(l.withAnyDetection)}` },
          { value: Math.max(0, l.active - l.withAnyDetection), color: '#dde3ea', label: `without: ${fmtInt(Math.max(0, l.active - l.withAnyDetection))}` },
        ],
        `${fmtShare(anyShare)} of active ${unit} have an IoT detection`,
      ) +
      `</div>`,
  );
  o.push(
    `<div class="kpi" id="kpi-classes"><div class="label">Detectable classes</div><div class="value">${fmtInt(h.detectableClasses)}</div>` +
      `<div class="sub">${LEVELS.map((x) => plural(h.byLevel[x] ?? 0, x)).join(' · ')}</div>` +
      shareBar(
        LEVELS.map((x) => ({ value: h.byLevel[x] ?? 0, color: colorOf(x), label: `${plural(h.byLevel[x] ?? 0, x)}` })),
        LEVELS.map((x) => plural(h.byLevel[x] ?? 0, x)).join(', '),
      ) +
      `</div>`,
  );
  o.push(
    `<div class="kpi ${status}" id="kpi-quality"><div class="label">Data quality</div><div class="value">${qualityHeadline(data, problems.length)}</div>` +
      `<div class="sub">${
        problems.length || notices.length
          ? `<a href="#quality">details below</a>${problems.length && notices.length ? ` · ${plural(notices.length, 'notice')}` : ''}`
          : `${plural(q.exporters.length, 'exporter')}, no problem found`
      }</div></div>`,
  );
  o.push('</section>');
  o.push(
    '<nav class="toc" aria-label="Sections"><a href="#classes">Detections</a>' +
      (data.previousDay ? '<a href="#changes">Changes</a>' : '') +
      '<a href="#hourly">Hourly profile</a><a href="#all">All classes</a><a href="#hitlist">Hitlist</a>' +
      (data.backends ? '<a href="#backends">Where the traffic goes</a>' : '') +
      '<a href="#quality">Data quality</a></nav>',
  );

  // Bars per level.
  o.push('<section id="classes">');
  o.push('<h2>Detected lines per class</h2>');
  o.push(
    '<p class="note">Subscriber lines on which the class was detected on the day. A product implies its manufacturer and platform, so a line counts at every level it was detected at.</p>',
  );
  o.push(
    `<div class="legend">${LEVELS.map((x) => `<span><span class="swatch lv-${x}"></span>${LEVEL_TITLE[x]}</span>`).join('')}` +
      (data.previousDay ? `<span><span class="tick"></span>previous day (${e(data.previousDay)})</span>` : '') +
      `<span><span class="up">▲</span>/<span class="down">▼</span> change vs previous day</span></div>`,
  );
  for (const level of LEVELS) {
    const list = classesOf(data, level);
    o.push(`<figure class="level" id="level-${level}">`);
    o.push(
      `<figcaption><h3><span class="lvl lv-${level}">${level}</span>${LEVEL_TITLE[level]} <span class="muted">(${plural(list.length, 'class')}, ${list.filter((c) => c.detectedLines > 0).length} detected)</span></h3></figcaption>`,
    );
    o.push(list.length ? classBars(data, level, list) : `<p class="note">No detectable ${level} class.</p>`);
    o.push('</figure>');
  }
  const other = data.classes.filter((c) => !LEVELS.includes(c.level));
  if (other.length) o.push(`<p class="note">${plural(other.length, 'class')} with an unknown level: see the table "All classes".</p>`);
  o.push('</section>');

  // Changes.
  if (data.previousDay) {
    o.push('<section id="changes">');
    o.push(`<h2>Change against ${e(data.previousDay)}</h2>`);
    const chart = changeChart(data);
    o.push(
      chart
        ? `<p class="note">The classes whose change is largest against day-to-day noise (change ÷ √previous); bars show the relative change. Every change is in the table "All classes".</p>${chart}`
        : '<p class="note">No class changed.</p>',
    );
    o.push('</section>');
  }

  // Hourly profile.
  o.push('<section id="hourly">');
  o.push('<h2>Hourly profile</h2>');
  const hm = heatmap(data);
  o.push(
    hm
      ? `<p class="note">Lines detected within each UTC hour. Each row is shaded by its own busiest hour: it shows when a class is active, not how big it is. Hover a cell for its number.</p><div class="scroll">${hm}</div>`
      : '<p class="note">No detection in any hour.</p>',
  );
  o.push('<details><summary>Hourly numbers as a table</summary><div class="scroll"><table class="hourly">');
  o.push(`<caption>Lines detected per UTC hour, ${e(data.day)}</caption>`);
  o.push(
    `<thead><tr><th scope="col">Class</th>${Array.from({ length: 24 }, (_, i) => `<th scope="col" class="num">${String(i).padStart(2, '0')}</th>`).join('')}</tr></thead><tbody>`,
  );
  for (const c of ordered)
    o.push(
      `<tr data-class-id="${e(c.classId)}"><th scope="row">${e(c.name)}</th>${hours(c)
        .map((v) => `<td class="num">${fmtInt(v)}</td>`)
        .join('')}</tr>`,
    );
  o.push('</tbody></table></div></details>');
  o.push('</section>');

  // All classes (the table behind every chart).
  o.push('<section id="all">');
  o.push('<h2>All classes</h2>');
  o.push('<div class="scroll"><table class="classes">');
  o.push(
    `<caption>${plural(ordered.length, 'detectable class')} by level, most detected first; change against ${e(data.previousDay ?? 'the previous day (none in storage)')}</caption>`,
  );
  o.push(
    '<thead><tr><th scope="col">Class</th><th scope="col">Id</th><th scope="col" class="num">Lines</th><th scope="col" class="num">% of active</th>' +
      '<th scope="col" class="num">Previous day</th><th scope="col" class="num">Change</th><th scope="col">Hourly (UTC)</th></tr></thead><tbody>',
  );
  let lastLevel: string | null = null;
  for (const c of ordered) {
    if (c.level !== lastLevel) {
      lastLevel = c.level;
      o.push(`<tr class="level"><td colspan="7">${e(LEVEL_TITLE[c.level] ?? c.level)}</td></tr>`);
    }
    const ch = change(c.detectedLines, c.detectedLinesPrevious);
    o.push(
      `<tr class="class${c.detectedLines === 0 ? ' zero' : ''}" data-class-id="${e(c.classId)}" data-level="${e(c.level)}">` +
        `<th scope="row">${e(c.name)}</th><td class="id">${e(c.classId)}</td>` +
        `<td class="num lines">${fmtInt(c.detectedLines)}</td><td class="num">${e(fmtShare(c.shareOfActive))}</td>` +
        `<td class="num">${fmtInt(c.detectedLinesPrevious)}</td><td class="num">${changeHtml(ch)}</td><td>${sparkSvg(c)}</td></tr>`,
    );
  }
  o.push('</tbody></table></div>');
  o.push('</section>');

  o.push(membersHtml(data));

  // Hitlist.
  o.push('<section id="hitlist">');
  o.push(`<h2>Hitlist${h.day ? ` of ${e(h.day)}` : ''}</h2>`);
  o.push('<div class="cards">');
  o.push(
    `<div class="card" id="hl-classes"><div class="value">${fmtInt(h.detectableClasses)}</div><div class="label">detectable classes (${LEVELS.map((x) => `${h.byLevel[x] ?? 0} ${x}`).join(', ')})</div></div>`,
  );
  o.push(
    `<div class="card" id="hl-addresses"><div class="value">${fmtInt(h.dedicatedAddresses)}</div><div class="label">dedicated service addresses</div></div>`,
  );
  o.push(`<div class="card" id="hl-entries"><div class="value">${fmtInt(h.entries)}</div><div class="label">(address, port, transport) entries</div></div>`);
  o.push(
    `<div class="card" id="hl-churn"><div class="value">${h.churn ? `<span class="up">+${fmtInt(h.churn.added)}</span> <span class="down">${MINUS}${fmtInt(h.churn.removed)}</span>` : '<span class="na">n/a</span>'}</div>` +
      `<div class="label">${h.churn ? 'churn: added, removed against the previous day' : 'churn: no previous hitlist'}</div></div>`,
  );
  o.push('</div>');
  o.push(`<h3>Not detectable <span class="muted">(${h.notDetectable.length})</span></h3>`);
  if (h.notDetectable.length === 0) o.push('<p class="note">Every class of the dictionary is detectable.</p>');
  else {
    o.push('<p class="note">Classes of the IoT dictionary the hitlist cannot detect on its own, and why; a coarser class may still cover them.</p>');
    o.push('<div class="scroll"><table class="notdetectable"><caption>Classes not detectable with this hitlist</caption>');
    o.push('<thead><tr><th scope="col">Class</th><th scope="col">Id</th><th scope="col">Reason</th></tr></thead><tbody>');
    for (const n of h.notDetectable)
      o.push(`<tr data-class-id="${e(n.classId)}"><th scope="row">${e(n.name)}</th><td class="id">${e(n.classId)}</td><td>${e(n.reason)}</td></tr>`);
    o.push('</tbody></table></div>');
  }
  o.push('</section>');

  // Where the IoT traffic goes.
  o.push(backendsHtml(data.backends, { hosts: !!data.ixp, names: new Map(data.classes.map((c) => [c.classId, c.name])) }));

  // Data quality.
  o.push(`<section id="quality" class="${status}">`);
  o.push(
    `<h2>Data quality<span class="status">${qualityHeadline(data, problems.length)}${!problems.length && notices.length ? ` · ${plural(notices.length, 'notice')}` : ''}</span></h2>`,
  );
  if (findings.length === 0) o.push('<p>No problem found: every exporter announced its sampling rate, no sequence gap, loss or malformed record.</p>');
  else {
    o.push('<ul class="findings">');
    for (const f of [...problems, ...notices])
      o.push(`<li class="${f.severity}"><span class="sev">${f.severity}</span><strong>${e(f.subject)}</strong>: ${e(f.message)}</li>`);
    o.push('</ul>');
  }
  const pct = (n: number) => e(fmtShare(q.flowsTotal ? n / q.flowsTotal : NaN));
  o.push('<div class="cards">');
  o.push(
    `<div class="card" id="q-flows"><div class="value">${fmtInt(q.flowsTotal)}</div><div class="label">flow records from ${plural(q.exporters.length, 'exporter')}</div></div>`,
  );
  o.push(
    `<div class="card" id="q-matched"><div class="value">${fmtInt(q.flowsMatched)}</div><div class="label">matched a hitlist entry (${pct(q.flowsMatched)})</div></div>`,
  );
  o.push(
    `<div class="card${q.unknownSamplingFlows > 0 ? ' bad' : ''}" id="q-unknown"><div class="value${q.unknownSamplingFlows > 0 ? ' down' : ''}">${fmtInt(q.unknownSamplingFlows)}</div><div class="label">flows with unknown sampling rate (${pct(q.unknownSamplingFlows)})</div></div>`,
  );
  o.push(
    `<div class="card" id="q-undecodable"><div class="value${q.undecodableBatches > 0 ? ' down' : ''}">${fmtInt(q.undecodableBatches)}</div><div class="label">undecodable batches</div></div>`,
  );
  o.push('</div>');
  const unknownHealth = exportersWithoutHealth(data);
  o.push(
    `<p id="q-lost">Lost between exporters and collectors, per unit (each protocol's sequence numbers count their own): <strong>${e(fmtLossTotals(data))}</strong>` +
      `${unknownHealth ? `; unknown for ${e(plural(unknownHealth, 'exporter'))} without ingest health` : ''}.</p>`,
  );
  const sflowCols = hasSflow(data);
  o.push('<div class="scroll"><table class="exporters"><caption>Exporters (routers) on the day; problems in red, "–" = no ingest health snapshot</caption>');
  o.push(
    '<thead><tr><th scope="col">Exporter</th><th scope="col">Protocol</th><th scope="col" class="num">Domain</th><th scope="col" class="num">Records</th><th scope="col">Sampling</th>' +
      '<th scope="col" class="num">Sequence gaps</th><th scope="col" class="num">Lost</th><th scope="col" class="num">Malformed</th><th scope="col" class="num">Sets without template</th>' +
      (sflowCols ? '<th scope="col" class="num">sFlow samples lost</th><th scope="col" class="num">Agent drops</th>' : '') +
      '</tr></thead><tbody>',
  );
  for (const x of q.exporters) {
    const cell = (v: number | null, unit?: string) =>
      `<td class="num${v === null ? ' unk' : v > 0 ? ' bad' : ''}">${fmtInt(v)}${unit && v !== null ? ` <span class="unit">${e(unit)}</span>` : ''}</td>`;
    const unknown = (x.samplingRates ?? []).includes(0);
    o.push(
      `<tr data-exporter="${e(x.exporter)}"><th scope="row"><code>${e(x.exporter)}</code></th><td>${e(versionName(x.version))}</td><td class="num">${e(x.observationDomain)}</td>` +
        `<td class="num">${fmtInt(x.records)}</td><td class="${unknown ? 'bad' : ''}">${e(fmtRates(x.samplingRates))}</td>` +
        `${cell(x.sequenceGaps)}${cell(x.lost, x.lostUnit)}${cell(x.malformed)}${cell(x.missingTemplateSets)}` +
        (sflowCols ? (x.version === SFLOW_VERSION ? `${cell(x.samplesLost ?? null)}${cell(x.sampleDrops ?? null)}` : '<td></td><td></td>') : '') +
        '</tr>',
    );
  }
  o.push('</tbody></table></div>');
  o.push('</section>');

  o.push(
    `<footer>Haystack detects IoT devices behind subscriber lines from sampled NetFlow/IPFIX and a daily hitlist of dedicated IoT service addresses ` +
      `(IMC 2020, "A Haystack Full of Needles"). Report for ${e(data.day)}, generated ${e(data.generatedAt)}. All times UTC. ` +
      `The same data: <code>haystack report --day ${e(data.day)} --format json</code> or <code>--format csv</code>.</footer>`,
  );
  return o.join('\n');
}
