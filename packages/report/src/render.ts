/**
 * Renders the daily detection report ({@link ReportData}) as a terminal table, JSON, CSV and one
 * self-contained HTML page (inline CSS and SVG, no script, nothing loaded from anywhere).
 *
 * Class names and ids come from data files (rules, hitlist builds), so every piece of text is
 * treated as hostile: HTML-escaped in the page, control and bidi characters replaced in the
 * terminal output, quoted (and guarded against spreadsheet formulas) in the CSV.
 */
import type { Level, ReportClass, ReportData, ReportExporter, ReportMember } from './data.js';

export const LEVELS: readonly Level[] = ['platform', 'manufacturer', 'product'];
const LEVEL_TITLE: Record<Level, string> = { platform: 'Platforms', manufacturer: 'Manufacturers', product: 'Products' };

// ---------------------------------------------------------------------------------------------
// Shared helpers

const nf = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 1234567 → "1,234,567"; null/NaN → "–". */
export function fmtInt(n: number | null | undefined): string {
  return n === null || n === undefined || !Number.isFinite(n) ? '–' : nf.format(n);
}

/** A 0..1 share as a percentage with enough digits to tell small classes apart. */
export function fmtShare(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  if (x === 0) return '0%';
  const p = x * 100;
  if (p < 0.01) return '<0.01%';
  return `${p.toFixed(p < 10 ? 2 : 1)}%`;
}

export interface Change {
  kind: 'na' | 'same' | 'up' | 'down' | 'new' | 'gone';
  abs: number | null;
  /** Relative change (0.1 = +10%); null when the previous value is 0 or unknown. */
  rel: number | null;
}

export function change(cur: number, prev: number | null | undefined): Change {
  if (prev === null || prev === undefined) return { kind: 'na', abs: null, rel: null };
  const abs = cur - prev;
  if (prev === 0) return { kind: cur === 0 ? 'same' : 'new', abs, rel: null };
  const rel = abs / prev;
  if (cur === 0) return { kind: 'gone', abs, rel };
  return { kind: abs === 0 ? 'same' : abs > 0 ? 'up' : 'down', abs, rel };
}

function signed(n: number, minus: string): string {
  return n > 0 ? `+${fmtInt(n)}` : n < 0 ? `${minus}${fmtInt(-n)}` : '0';
}

function signedPct(rel: number, minus: string): string {
  const p = rel * 100;
  const digits = Math.abs(p) < 10 ? 1 : 0;
  const s = Math.abs(p).toFixed(digits);
  if (Number(s) === 0) return '0%';
  return `${p > 0 ? '+' : minus}${s}%`;
}

/** "+1,204 (+0.8%)", "-312 (-2.1%)", "+12 (new)", "n/a". */
export function fmtChange(c: Change, minus = '-'): string {
  if (c.kind === 'na' || c.abs === null) return 'n/a';
  if (c.kind === 'same') return '0';
  if (c.kind === 'new') return `${signed(c.abs, minus)} (new)`;
  return `${signed(c.abs, minus)} (${signedPct(c.rel ?? 0, minus)})`;
}

/** Classes of one level, most detected first (ties by name, then id, for a stable order). */
export function classesOf(data: ReportData, level: Level): ReportClass[] {
  return data.classes
    .filter((c) => c.level === level)
    .sort((a, b) => b.detectedLines - a.detectedLines || a.name.localeCompare(b.name, 'en') || (a.classId < b.classId ? -1 : 1));
}

/** Every class in display order: by level (platform, manufacturer, product), then most detected. */
export function orderedClasses(data: ReportData): ReportClass[] {
  const known = LEVELS.flatMap((l) => classesOf(data, l));
  // A level outside the contract must not make a class disappear from the report.
  const rest = data.classes.filter((c) => !LEVELS.includes(c.level));
  return [...known, ...rest];
}

/** The 24 hourly numbers, padded or cut to 24 if the data is off. */
function hours(c: ReportClass): number[] {
  const h = Array.isArray(c.hourly) ? c.hourly.slice(0, 24) : [];
  while (h.length < 24) h.push(0);
  return h.map((v) => (Number.isFinite(v) && v > 0 ? v : 0));
}

function peakHour(h: number[]): number | null {
  let best = -1;
  let at: number | null = null;
  h.forEach((v, i) => {
    if (v > best && v > 0) {
      best = v;
      at = i;
    }
  });
  return at;
}

const SPARK = '▁▂▃▄▅▆▇█';

/** 24-character sparkline scaled from 0 to the class's busiest hour; '·' = no line that hour. */
export function sparkline(hourly: number[]): string {
  const max = Math.max(0, ...hourly);
  if (max === 0) return '·'.repeat(hourly.length);
  return hourly.map((v) => (v <= 0 ? '·' : SPARK[Math.min(7, Math.max(0, Math.ceil((v / max) * 8) - 1))])).join('');
}

/** The exporter "version" the decoders give sFlow v5 agents (the batch protocol code). */
const SFLOW_VERSION = 133;
const hasSflow = (d: ReportData): boolean => d.quality.exporters.some((e) => e.version === SFLOW_VERSION);

function versionName(v: number): string {
  return v === 10 ? 'IPFIX' : v === SFLOW_VERSION ? 'sFlow v5' : `NetFlow v${v}`;
}

/** IXP: the members section as text lines. */
function ixpText(data: ReportData, t: (s: string) => string): string[] {
  const x = data.ixp;
  if (!x) return [];
  const a = x.attribution;
  const out = [
    '',
    `MEMBERS (${x.members.length}), ranked by IoT hosts; hosts attributed by router MAC ${fmtInt(a.mac)}, AS ${fmtInt(a.as)}, route table ${fmtInt(a.prefix)}, unattributed ${fmtInt(a.none)}`,
  ];
  for (const m of x.members) {
    const name = m.asn === 0 ? '(unattributed)' : `AS${m.asn} ${m.name}`;
    out.push(
      `  ${padEnd(cut(t(name), 34), 34)} ${padStart(fmtInt(m.iotHosts), 7)} IoT hosts (${padStart(fmtShare(m.shareOfActive), 6)} of ${padStart(fmtInt(m.activeHosts), 7)} active)  ${padStart(fmtBytes(m.estBytesToIot), 9)} to IoT backends  ${sparkline(m.hourly ?? [])}`,
    );
    // Every class of the member, platforms too, wrapped under it: hosts per class.
    const items = m.classes.map((c) => t(`${c.classId}${c.level === 'platform' ? ' (platform)' : ''} ${fmtInt(c.hosts)}`));
    let line = '      ';
    for (const [i, it] of items.entries()) {
      const piece = `${it}${i < items.length - 1 ? ',' : ''}`;
      if (line.length + piece.length + 1 > 110 && line.trim()) {
        out.push(line.trimEnd());
        line = '      ';
      }
      line += `${piece} `;
    }
    if (line.trim()) out.push(line.trimEnd());
  }
  return out;
}

function fmtBytes(n: number): string {
  const u = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${u[i]}`;
}

function fmtRates(rates: number[]): string {
  if (!rates || rates.length === 0) return 'none seen';
  return [...rates]
    .sort((a, b) => a - b)
    .map((r) => (r === 0 ? 'unknown' : `1:${r}`))
    .join(', ');
}

export interface QualityFinding {
  /** problem: the day's numbers are likely incomplete or wrong; notice: worth knowing. */
  severity: 'problem' | 'notice';
  /** What it is about: an exporter ("192.0.2.7 NetFlow v9 domain 1") or a part of the pipeline. */
  subject: string;
  message: string;
}

function exporterLabel(e: ReportExporter): string {
  return `${e.exporter} ${versionName(e.version)} domain ${e.observationDomain}`;
}

/** What is wrong (or worth knowing) with the day's input and the report built from it. */
/** Exporters whose losses and sequence gaps are unknown: no ingest health snapshot reached storage for the day. */
export function exportersWithoutHealth(data: ReportData): number {
  return data.quality.exporters.filter((e) => e.sequenceGaps === null && e.lost === null && e.malformed === null && e.missingTemplateSets === null).length;
}

/** Losses summed per unit (never across units), for the exporters whose health is known. */
export function lossTotals(data: ReportData): { unit: string; lost: number; protocols: string[] }[] {
  const by = new Map<string, { unit: string; lost: number; protocols: string[] }>();
  const add = (unit: string, n: number | null | undefined, protocol: string) => {
    if (!n) return;
    let t = by.get(unit);
    if (!t) by.set(unit, (t = { unit, lost: 0, protocols: [] }));
    t.lost += n;
    if (!t.protocols.includes(protocol)) t.protocols.push(protocol);
  };
  for (const e of data.quality.exporters) {
    add(e.lostUnit, e.lost, versionName(e.version));
    if (e.version === SFLOW_VERSION) add('samples', e.samplesLost, versionName(e.version));
  }
  return [...by.values()];
}

/** "120 packets (NetFlow v9) · 7,043 records (IPFIX)", or "none". */
export function fmtLossTotals(data: ReportData): string {
  const l = lossTotals(data);
  return l.length ? l.map((x) => `${fmtInt(x.lost)} ${x.unit} (${x.protocols.join(', ')})`).join(' · ') : 'none';
}

/** What the report counts as a line, said plainly (shares depend on it). */
export const LINE_MEANING =
  'a line is one IPv4 address or one IPv6 prefix (ingest.ipv6LinePrefixLength); a dual-stack subscriber counts once only where detector.subscriberMap names its addresses';
/** At an IXP (deployment: ixp). */
export const HOST_MEANING =
  'a host is the end of a flow that is not on the hitlist: one IPv4 address or one IPv6 prefix (ixp.hostPrefixLength6), attributed to the member network it sits behind';

const pluralOf = (n: number, w: string) => `${fmtInt(n)} ${w}${n === 1 ? '' : w.endsWith('s') ? 'es' : 's'}`;

/** "OK" only when it is known to be: no problem, and health known for every exporter. */
function qualityHeadline(data: ReportData, problems: number): string {
  if (problems) return pluralOf(problems, 'problem');
  const unknown = exportersWithoutHealth(data);
  if (unknown || data.quality.exporters.length === 0) return 'unknown';
  return 'OK';
}

export function qualityFindings(data: ReportData): QualityFinding[] {
  const out: QualityFinding[] = [];
  const q = data.quality;
  const problem = (subject: string, message: string) => out.push({ severity: 'problem', subject, message });
  const notice = (subject: string, message: string) => out.push({ severity: 'notice', subject, message });

  if (q.flowsTotal === 0 || q.exporters.length === 0) problem('flows', 'no flow record reached the detector on this day');
  if (data.lines.active === 0) problem('lines', 'no active subscriber line on this day: shares cannot be computed');
  if (data.hitlist.day === null) problem('hitlist', 'no hitlist was in use: nothing could be detected');
  else if (data.hitlist.day !== data.day) problem('hitlist', `the hitlist in use is from ${data.hitlist.day}, not from ${data.day}`);
  if (q.flowsTotal > 0 && q.flowsMatched === 0) problem('hitlist', 'no flow matched a hitlist entry (hitlist not loaded, or subscriber prefixes wrong?)');
  if (q.undecodableBatches > 0) problem('detector', `${fmtInt(q.undecodableBatches)} flow batch(es) could not be decoded and were skipped`);

  let unknownCovered = false;
  for (const e of q.exporters) {
    const who = exporterLabel(e);
    const rates = e.samplingRates ?? [];
    if (rates.includes(0)) {
      unknownCovered = true;
      problem(
        who,
        `sampling rate unknown for ${rates.length > 1 ? 'part' : 'all'} of its flows (rates seen: ${fmtRates(rates)}); ` +
          'it sends no sampler options: set ingest.sampling.exporters for it',
      );
    }
    const known = rates.filter((r) => r > 0);
    if (known.length > 1) notice(who, `sampling rate changed during the day (${fmtRates(known)})`);
    if ((e.sequenceGaps ?? 0) > 0 || (e.lost ?? 0) > 0) {
      problem(
        who,
        `${fmtInt(e.sequenceGaps ?? 0)} sequence gap(s), ${e.lost === null ? 'unknown' : fmtInt(e.lost)} ${e.version === 9 ? 'packets' : e.version === SFLOW_VERSION ? 'datagrams' : 'records'} lost between exporter and collector`,
      );
    }
    if ((e.samplesLost ?? 0) > 0) problem(who, `${fmtInt(e.samplesLost)} sFlow sample(s) lost between agent and collector (sample sequence gaps)`);
    if ((e.sampleDrops ?? 0) > 0)
      problem(who, `the agent dropped ${fmtInt(e.sampleDrops)} packet(s) it should have sampled (its sampling queue overflowed): rates understate traffic`);
    if ((e.malformed ?? 0) > 0) problem(who, `${fmtInt(e.malformed)} malformed packet(s) or record(s)`);
    if ((e.missingTemplateSets ?? 0) > 0) problem(who, `${fmtInt(e.missingTemplateSets)} data set(s) arrived without a known template`);
    if (e.sequenceGaps === null && e.lost === null && e.malformed === null && e.missingTemplateSets === null)
      notice(who, 'no ingest health snapshot: sequence gaps, losses and malformed records are unknown');
    if (e.records === 0) notice(who, 'no flow record from this exporter on the day');
  }
  if (q.unknownSamplingFlows > 0 && !unknownCovered) problem('flows', `${fmtInt(q.unknownSamplingFlows)} flows with unknown sampling rate`);

  const active = change(data.lines.active, data.lines.activePrevious);
  if (active.rel !== null && Math.abs(active.rel) >= 0.1)
    notice(
      'lines',
      `active lines changed by ${signedPct(active.rel, '-')} against ${data.previousDay ?? 'the previous day'} (exporter outage or new prefixes?)`,
    );
  if (data.previousDay === null) notice('report', 'no previous day in storage: changes against the previous day are not shown');
  return out;
}

/** Replace C0/C1 controls (terminal escapes) and bidi overrides with U+FFFD. */
function termSafe(s: string): string {
  return String(s).replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '\uFFFD');
}

const cpLen = (s: string) => [...s].length;
function cut(s: string, max: number): string {
  const cps = [...s];
  return cps.length <= max ? s : cps.slice(0, max - 1).join('') + '…';
}
const padEnd = (s: string, n: number) => s + ' '.repeat(Math.max(0, n - cpLen(s)));
const padStart = (s: string, n: number) => ' '.repeat(Math.max(0, n - cpLen(s))) + s;

// ---------------------------------------------------------------------------------------------
// Text

/** The report as a terminal table (plain text, no colours, ≤ ~110 columns). */
export function renderText(data: ReportData): string {
  const out: string[] = [];
  const t = termSafe;
  const l = data.lines;
  const h = data.hitlist;
  // At an IXP the unit is a host behind a member network (ixp.hostPrefixLength6 for IPv6), not a line.
  const unit = data.ixp ? 'hosts' : 'lines';
  const Unit = data.ixp ? 'Hosts' : 'Lines';
  out.push(`Haystack daily IoT detection report: ${t(data.day)} (UTC)`);
  out.push(
    `generated ${t(data.generatedAt)} · ${data.previousDay ? `compared with ${t(data.previousDay)}` : 'no previous day'} · ` +
      `${h.day ? `hitlist of ${t(h.day)}` : 'no hitlist'}`,
  );
  out.push('');
  const activeCh = change(l.active, l.activePrevious);
  const kpi = (label: string, value: string, note: string) => `${padEnd(label, 26)}${padStart(value, 11)}   ${note}`;
  out.push(kpi(`Active ${unit}`, fmtInt(l.active), activeCh.kind === 'na' ? '' : `${fmtChange(activeCh)} vs ${t(data.previousDay ?? '')}`));
  out.push(kpi(`${Unit} with any detection`, fmtInt(l.withAnyDetection), `${fmtShare(l.active ? l.withAnyDetection / l.active : NaN)} of active ${unit}`));
  out.push(`  (${data.ixp ? HOST_MEANING : LINE_MEANING})`);
  out.push(
    kpi(
      'Detectable classes',
      fmtInt(h.detectableClasses),
      `${LEVELS.map((x) => `${h.byLevel[x] ?? 0} ${x}`).join(' · ')} · ${h.notDetectable.length} not detectable`,
    ),
  );
  const findings = qualityFindings(data);
  const problems = findings.filter((f) => f.severity === 'problem');
  const withoutHealth = exportersWithoutHealth(data);
  out.push(
    kpi(
      'Data quality',
      qualityHeadline(data, problems.length),
      problems.length
        ? 'see DATA QUALITY below'
        : withoutHealth
          ? `${pluralOf(withoutHealth, 'exporter')} without ingest health: losses not known`
          : data.quality.exporters.length === 0
            ? 'no exporter on this day'
            : '',
    ),
  );

  // Classes, grouped by level.
  const ordered = orderedClasses(data);
  const nameW = Math.min(40, Math.max(24, ...ordered.map((c) => cpLen(t(c.name)))));
  const ch = data.previousDay ? `vs ${data.previousDay}` : 'vs previous day';
  const head = (title: string) => `${padEnd(title, nameW + 2)} ${padStart(unit, 9)} ${padStart('% active', 8)}  ${padEnd(t(ch), 17)}  hourly 00–23 UTC`;
  const groups: [string, ReportClass[]][] = LEVELS.map((x) => [`${LEVEL_TITLE[x].toUpperCase()} (${classesOf(data, x).length})`, classesOf(data, x)]);
  const other = data.classes.filter((c) => !LEVELS.includes(c.level));
  if (other.length) groups.push([`OTHER (${other.length})`, other]);
  for (const [title, list] of groups) {
    out.push('');
    out.push(head(title));
    if (list.length === 0) out.push('  (none detectable)');
    for (const c of list) {
      out.push(
        `  ${padEnd(cut(t(c.name), nameW), nameW)} ${padStart(fmtInt(c.detectedLines), 9)} ${padStart(fmtShare(c.shareOfActive), 8)}  ` +
          `${padEnd(fmtChange(change(c.detectedLines, c.detectedLinesPrevious)), 17)}  ${sparkline(hours(c))}`,
      );
    }
  }
  out.push('');
  out.push(`Hourly sparklines: ${unit} detected within each UTC hour, each class scaled to its own busiest hour; '·' = none.`);

  // Hitlist.
  out.push('');
  out.push(`HITLIST${h.day ? ` (${t(h.day)})` : ''}`);
  out.push(`  ${fmtInt(h.detectableClasses)} detectable classes: ${LEVELS.map((x) => `${h.byLevel[x] ?? 0} ${x}`).join(', ')}`);
  out.push(`  ${fmtInt(h.dedicatedAddresses)} dedicated service addresses in ${fmtInt(h.entries)} (address, port, transport) entries`);
  out.push(
    `  churn against the previous day: ${h.churn ? `+${fmtInt(h.churn.added)} added, -${fmtInt(h.churn.removed)} removed` : 'n/a (no previous hitlist)'}`,
  );
  out.push(`  not detectable (${h.notDetectable.length})${h.notDetectable.length ? ':' : ''}`);
  for (const n of h.notDetectable) out.push(`    ${t(n.name)} [${t(n.classId)}]: ${t(n.reason)}`);

  out.push(...ixpText(data, t));

  // Data quality.
  const q = data.quality;
  out.push('');
  out.push(`DATA QUALITY${problems.length ? ` (${problems.length} problem${problems.length > 1 ? 's' : ''})` : ''}`);
  out.push(
    `  flows ${fmtInt(q.flowsTotal)}, matched a hitlist entry ${fmtInt(q.flowsMatched)} (${fmtShare(q.flowsTotal ? q.flowsMatched / q.flowsTotal : NaN)})`,
  );
  out.push(`  flows with unknown sampling rate ${fmtInt(q.unknownSamplingFlows)} (${fmtShare(q.flowsTotal ? q.unknownSamplingFlows / q.flowsTotal : NaN)})`);
  out.push(`  undecodable batches ${fmtInt(q.undecodableBatches)}`);
  out.push(`  lost between exporters and collectors: ${fmtLossTotals(data)}${withoutHealth ? ` (unknown for ${pluralOf(withoutHealth, 'exporter')})` : ''}`);
  const exW = Math.max(8, ...q.exporters.map((e) => cpLen(t(e.exporter))));
  const ratesW = Math.max(8, ...q.exporters.map((e) => cpLen(fmtRates(e.samplingRates))));
  // sFlow agents add their own loss counters; an all-NetFlow table keeps its usual columns.
  const sflow = hasSflow(data);
  const cols = (a: string[]) =>
    `  ${padEnd(a[0]!, exW)}  ${padEnd(a[1]!, 11)} ${padStart(a[2]!, 6)} ${padStart(a[3]!, 14)}  ${padEnd(a[4]!, ratesW)} ${padStart(a[5]!, 9)} ${padStart(a[6]!, 17)} ${padStart(a[7]!, 9)} ${padStart(a[8]!, 11)}` +
    (sflow ? ` ${padStart(a[9]!, 12)} ${padStart(a[10]!, 11)}`.trimEnd() : '');
  out.push(cols(['exporter', 'protocol', 'domain', 'records', 'sampling', 'seq gaps', 'lost', 'malformed', 'no template', 'samples lost', 'agent drops']));
  for (const e of q.exporters) {
    const sf = e.version === SFLOW_VERSION;
    out.push(
      cols([
        t(e.exporter),
        versionName(e.version),
        String(e.observationDomain),
        fmtInt(e.records),
        fmtRates(e.samplingRates),
        fmtInt(e.sequenceGaps),
        e.lost === null ? fmtInt(null) : `${fmtInt(e.lost)} ${e.lostUnit}`,
        fmtInt(e.malformed),
        fmtInt(e.missingTemplateSets),
        sf ? fmtInt(e.samplesLost ?? null) : '',
        sf ? fmtInt(e.sampleDrops ?? null) : '',
      ]),
    );
  }
  if (findings.length === 0) out.push('  no problem found');
  else if (!findings.some((f) => f.severity === 'problem') && exportersWithoutHealth(data))
    out.push(`  data quality unknown: ${pluralOf(exportersWithoutHealth(data), 'exporter')} without ingest health (losses not known)`);
  for (const f of findings) out.push(`  ${f.severity === 'problem' ? '! PROBLEM' : '- notice '} ${t(f.subject)}: ${t(f.message)}`);
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// JSON

/** The report data as JSON, exactly as given (parses back to an equal object). */
export function renderJson(data: ReportData): string {
  return JSON.stringify(data, null, 2) + '\n';
}

// ---------------------------------------------------------------------------------------------
// CSV

/**
 * CSV columns, one row per detectable class (RFC 4180: CRLF line ends, header row, fields with
 * a comma, quote or line break in double quotes, quotes doubled). Text fields that begin with
 * = + - @ or a tab are prefixed with ' so a spreadsheet shows them instead of evaluating them.
 */
export const CSV_COLUMNS: readonly { name: string; description: string }[] = [
  { name: 'day', description: 'report day (UTC, YYYY-MM-DD)' },
  { name: 'level', description: 'platform, manufacturer or product' },
  { name: 'class_id', description: 'stable class id (rules/classes.yaml)' },
  { name: 'name', description: 'class name' },
  { name: 'parents', description: 'coarser classes this one implies, class ids separated by ";"' },
  { name: 'detected_lines', description: 'subscriber lines detected hosting the class on the day' },
  { name: 'detected_lines_previous', description: 'the same on the previous day; empty when there is no previous day' },
  { name: 'change', description: 'detected_lines - detected_lines_previous; empty when there is no previous day' },
  { name: 'share_of_active', description: 'detected_lines / active lines of the day, a fraction 0..1' },
  { name: 'active_lines', description: 'subscriber lines with at least one flow on the day' },
  ...Array.from({ length: 24 }, (_, i) => ({
    name: `h${String(i).padStart(2, '0')}`,
    description: `lines detected within UTC hour ${String(i).padStart(2, '0')}:00-${String(i).padStart(2, '0')}:59`,
  })),
];

function csvField(v: string | number | null, text = false): string {
  if (v === null) return '';
  let s = String(v);
  if (text && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function renderCsv(data: ReportData): string {
  if (data.ixp) return renderMembersCsv(data);
  const rows = [CSV_COLUMNS.map((c) => c.name).join(',')];
  for (const c of orderedClasses(data)) {
    const ch = change(c.detectedLines, c.detectedLinesPrevious);
    rows.push(
      [
        csvField(data.day, true),
        csvField(c.level, true),
        csvField(c.classId, true),
        csvField(c.name, true),
        csvField(c.parents.join(';'), true),
        csvField(c.detectedLines),
        csvField(c.detectedLinesPrevious),
        csvField(ch.abs),
        csvField(c.shareOfActive),
        csvField(data.lines.active),
        ...hours(c).map((v) => csvField(v)),
      ].join(','),
    );
  }
  return rows.join('\r\n') + '\r\n';
}

/** IXP deployment: one row per member and class (hosts), with the member's totals. */
export const MEMBER_CSV_COLUMNS = [
  'day',
  'member_asn',
  'member_name',
  'level',
  'class_id',
  'hosts',
  'member_iot_hosts',
  'member_active_hosts',
  'member_share_of_active',
  'member_est_bytes_to_iot',
] as const;

function renderMembersCsv(data: ReportData): string {
  const rows: string[] = [MEMBER_CSV_COLUMNS.join(',')];
  for (const m of data.ixp!.members)
    for (const c of m.classes)
      rows.push(
        [
          csvField(data.day, true),
          csvField(m.asn),
          csvField(m.name, true),
          csvField(c.level, true),
          csvField(c.classId, true),
          csvField(c.hosts),
          csvField(m.iotHosts),
          csvField(m.activeHosts),
          csvField(m.shareOfActive),
          csvField(Math.round(m.estBytesToIot)),
        ].join(','),
      );
  return rows.join('\r\n') + '\r\n';
}

/** A member's hourly profile, drawn as a class's. */
function memberSpark(m: ReportMember): string {
  const name = m.asn === 0 ? '(unattributed)' : `AS${m.asn} ${m.name}`;
  return sparkSvg({
    classId: `AS${m.asn}`,
    name,
    level: 'manufacturer',
    parents: [],
    detectedLines: m.iotHosts,
    detectedLinesPrevious: null,
    shareOfActive: 0,
    hourly: m.hourly ?? [],
  });
}

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

// ---------------------------------------------------------------------------------------------
// HTML

/** Escape text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}
const e = escapeHtml;
const MINUS = '\u2212';

const COLOR: Record<Level, string> = { platform: '#3b5bdb', manufacturer: '#0b7285', product: '#c2255c' };
const colorOf = (l: Level) => COLOR[l] ?? '#495057';

/** Round to 1 decimal for compact SVG coordinates. */
const r1 = (x: number) => Math.round(x * 10) / 10;

let svgSeq = 0;

/** An <svg> that scales to the page width, announced as an image with a title and description. */
function svg(width: number, height: number, title: string, desc: string, body: string, cls = 'chart'): string {
  const id = `svg${++svgSeq}`;
  return (
    `<svg class="${cls}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="${id}t ${id}d" preserveAspectRatio="xMinYMin meet">` +
    `<title id="${id}t">${e(title)}</title><desc id="${id}d">${e(desc)}</desc>${body}</svg>`
  );
}

function changeHtml(c: Change): string {
  if (c.kind === 'na') return '<span class="na">n/a</span>';
  if (c.kind === 'same') return '<span class="same">±0</span>';
  const cls = c.abs! > 0 ? 'up' : 'down';
  const arrow = c.abs! > 0 ? '▲' : '▼';
  return `<span class="${cls}">${arrow} ${e(fmtChange(c, MINUS))}</span>`;
}

function changeShort(c: Change): { text: string; cls: string } {
  switch (c.kind) {
    case 'na':
      return { text: '', cls: 'na' };
    case 'same':
      return { text: '±0', cls: 'same' };
    case 'new':
      return { text: '▲ new', cls: 'up' };
    default:
      return { text: `${c.abs! > 0 ? '▲' : '▼'} ${signedPct(c.rel ?? 0, MINUS)}`, cls: c.abs! > 0 ? 'up' : 'down' };
  }
}

/** Horizontal bars: lines today per class of one level, a tick at the previous day's value. */
function barChart(data: ReportData, level: Level, list: ReportClass[]): string {
  const W = 960;
  const L = 280; // label column
  const B = 400; // bar area
  const rowH = 24;
  const top = 26;
  const H = top + list.length * rowH + 6;
  const max = Math.max(1, ...list.map((c) => Math.max(c.detectedLines, c.detectedLinesPrevious ?? 0)));
  const color = colorOf(level);
  const parts: string[] = [];
  parts.push(
    `<text class="colhead" x="${L + B + 90}" y="14" text-anchor="end">lines</text>` +
      `<text class="colhead" x="${L + B + 160}" y="14" text-anchor="end">% active</text>` +
      `<text class="colhead" x="${L + B + 180}" y="14">${data.previousDay ? 'vs prev. day' : ''}</text>`,
  );
  list.forEach((c, i) => {
    const y = top + i * rowH;
    const w = (c.detectedLines / max) * B;
    const ch = change(c.detectedLines, c.detectedLinesPrevious);
    const cs = changeShort(ch);
    const zero = c.detectedLines === 0;
    const tip =
      `${c.name} (${c.classId}): ${fmtInt(c.detectedLines)} lines, ${fmtShare(c.shareOfActive)} of active lines` +
      (c.detectedLinesPrevious === null ? '' : `; previous day ${fmtInt(c.detectedLinesPrevious)} (${fmtChange(ch, MINUS)})`);
    parts.push(
      `<g class="row${zero ? ' zero' : ''}" data-class-id="${e(c.classId)}"><title>${e(tip)}</title>` +
        `<text class="label" x="${L - 10}" y="${y + 13}" text-anchor="end">${e(cut(c.name, 40))}</text>` +
        `<rect class="track" x="${L}" y="${y + 2}" width="${B}" height="16" rx="2"/>` +
        (w > 0 ? `<rect class="bar" x="${L}" y="${y + 2}" width="${r1(Math.max(1.5, w))}" height="16" rx="2" fill="${color}"/>` : '') +
        (c.detectedLinesPrevious !== null && c.detectedLinesPrevious > 0
          ? `<line class="prev" x1="${r1(L + (c.detectedLinesPrevious / max) * B)}" x2="${r1(L + (c.detectedLinesPrevious / max) * B)}" y1="${y}" y2="${y + 20}"/>`
          : '') +
        `<text class="num${zero ? ' dim' : ''}" x="${L + B + 90}" y="${y + 14}" text-anchor="end">${fmtInt(c.detectedLines)}</text>` +
        `<text class="num dim" x="${L + B + 160}" y="${y + 14}" text-anchor="end">${e(fmtShare(c.shareOfActive))}</text>` +
        `<text class="chg ${cs.cls}" x="${L + B + 180}" y="${y + 14}">${e(cs.text)}</text></g>`,
    );
  });
  const title = `${LEVEL_TITLE[level]}: subscriber lines detected on ${data.day}`;
  const desc =
    `Horizontal bars, one per ${level} class, longest first; the dark tick marks the previous day's value. ` +
    `The same numbers are in the table "All classes".`;
  return svg(W, H, title, desc, parts.join(''), `chart bars level-${level}`);
}

/** Diverging bars of the relative change against the previous day, most significant first. */
function changeChart(data: ReportData): string {
  const cand = data.classes
    .filter((c) => c.detectedLinesPrevious !== null && (c.detectedLines > 0 || (c.detectedLinesPrevious ?? 0) > 0))
    .map((c) => {
      const ch = change(c.detectedLines, c.detectedLinesPrevious);
      // Rank by the change in units of its Poisson noise (√previous), so that neither the big
      // platforms (large absolute changes) nor tiny classes (large relative changes) crowd the chart.
      const z = Math.abs(ch.abs ?? 0) / Math.sqrt(Math.max(1, c.detectedLinesPrevious ?? 0));
      return { c, ch, z };
    })
    .filter((x) => x.ch.abs !== 0)
    .sort((a, b) => b.z - a.z || a.c.name.localeCompare(b.c.name, 'en'))
    .slice(0, 12);
  if (cand.length === 0) return '';
  const W = 960;
  const L = 300;
  const C = L + 200; // centre line
  const half = 190;
  const rowH = 24;
  const top = 24;
  const H = top + cand.length * rowH + 8;
  const maxRel = Math.max(0.01, ...cand.map((x) => Math.abs(x.ch.rel ?? 1)));
  const parts: string[] = [
    `<text class="colhead" x="${C - half}" y="14">fewer lines</text>`,
    `<text class="colhead" x="${C + half}" y="14" text-anchor="end">more lines</text>`,
    `<line class="axis" x1="${C}" x2="${C}" y1="${top - 4}" y2="${H - 4}"/>`,
  ];
  cand.forEach(({ c, ch }, i) => {
    const y = top + i * rowH;
    const rel = ch.rel ?? (ch.abs! > 0 ? maxRel : -maxRel);
    const w = Math.max(1.5, (Math.abs(rel) / maxRel) * half);
    const x = rel >= 0 ? C : C - w;
    const cls = ch.abs! > 0 ? 'up' : 'down';
    parts.push(
      `<g class="row" data-class-id="${e(c.classId)}"><title>${e(`${c.name} (${c.level}): ${fmtInt(c.detectedLinesPrevious)} → ${fmtInt(c.detectedLines)} lines, ${fmtChange(ch, MINUS)}`)}</title>` +
        `<text class="label" x="${L - 10}" y="${y + 13}" text-anchor="end">${e(cut(c.name, 36))}</text>` +
        `<circle cx="${L + 2}" cy="${y + 9}" r="4" fill="${colorOf(c.level)}"/>` +
        `<rect class="bar ${cls}" x="${r1(x)}" y="${y + 2}" width="${r1(w)}" height="16" rx="2"/>` +
        `<text class="chg ${cls}" x="${C + half + 20}" y="${y + 14}">${e(fmtChange(ch, MINUS))}</text></g>`,
    );
  });
  return svg(
    W,
    H,
    `Change in detected lines, ${data.day} against ${data.previousDay}`,
    'Diverging bars of the relative change per class, the classes whose change is largest against its day-to-day noise (change divided by the square root of the previous value) first; the dot shows the level. All changes are in the table "All classes".',
    parts.join(''),
    'chart changes',
  );
}

/** Heatmap: one row per class with detections, one column per UTC hour, shaded by the row's own maximum. */
function heatmap(data: ReportData): string {
  const rows: ({ level: Level } | { c: ReportClass })[] = [];
  for (const level of LEVELS) {
    const list = classesOf(data, level).filter((c) => c.detectedLines > 0);
    if (list.length === 0) continue;
    rows.push({ level });
    for (const c of list) rows.push({ c });
  }
  if (rows.length === 0) return '';
  const L = 280;
  const cw = 24;
  const gap = 2;
  const rh = 16;
  const top = 22;
  const W = L + 24 * (cw + gap) + 90;
  let y = top;
  const parts: string[] = [];
  for (let hh = 0; hh < 24; hh += 3)
    parts.push(`<text class="colhead" x="${L + hh * (cw + gap) + cw / 2}" y="14" text-anchor="middle">${String(hh).padStart(2, '0')}</text>`);
  parts.push(`<text class="colhead" x="${L + 24 * (cw + gap) + 8}" y="14">peak (UTC)</text>`);
  for (const row of rows) {
    if ('level' in row) {
      y += 6;
      parts.push(`<text class="group" x="${L - 10}" y="${y + 12}" text-anchor="end">${e(LEVEL_TITLE[row.level])}</text>`);
      parts.push(`<line class="sep" x1="${L}" x2="${L + 24 * (cw + gap) - gap}" y1="${y + 8}" y2="${y + 8}"/>`);
      y += rh + gap;
      continue;
    }
    const c = row.c;
    const h = hours(c);
    const max = Math.max(...h);
    const color = colorOf(c.level);
    const cells = h
      .map((v, i) => {
        const op = v <= 0 ? 0 : 0.1 + 0.9 * (v / max);
        const hh = String(i).padStart(2, '0');
        return (
          `<rect class="cell" x="${L + i * (cw + gap)}" y="${y}" width="${cw}" height="${rh}" rx="2" fill="${v > 0 ? color : '#ffffff'}" fill-opacity="${op.toFixed(2)}">` +
          `<title>${e(`${c.name}, ${hh}:00–${hh}:59 UTC: ${fmtInt(v)} lines`)}</title></rect>`
        );
      })
      .join('');
    const pk = peakHour(h);
    parts.push(
      `<g class="row" data-class-id="${e(c.classId)}"><text class="label" x="${L - 10}" y="${y + 12}" text-anchor="end">${e(cut(c.name, 40))}</text>${cells}` +
        `<text class="num dim" x="${L + 24 * (cw + gap) + 8}" y="${y + 12}">${pk === null ? '' : `${String(pk).padStart(2, '0')}:00`}</text></g>`,
    );
    y += rh + gap;
  }
  const H = y + 6;
  return svg(
    W,
    H,
    `Hourly profile of detected lines, ${data.day} (UTC)`,
    "Heatmap: one row per class with detections, one column per UTC hour; the darker a cell, the closer that hour is to the class's busiest hour. Exact numbers are in the hourly table below the chart.",
    parts.join(''),
    'chart heatmap',
  );
}

/** A 24-bar inline sparkline for the class table. */
function sparkSvg(c: ReportClass): string {
  const h = hours(c);
  const max = Math.max(...h);
  const bw = 3;
  const H = 18;
  const bars = h
    .map((v, i) => {
      const bh = max > 0 ? Math.max(v > 0 ? 1 : 0, (v / max) * H) : 0;
      return bh > 0 ? `<rect x="${i * bw}" y="${r1(H - bh)}" width="${bw - 0.6}" height="${r1(bh)}"/>` : '';
    })
    .join('');
  const pk = peakHour(h);
  const label = pk === null ? 'no detection in any hour' : `busiest hour ${String(pk).padStart(2, '0')}:00 UTC`;
  return `<svg class="spark" viewBox="0 0 ${24 * bw} ${H}" width="${24 * bw}" height="${H}" role="img" aria-label="${e(`hourly profile: ${label}`)}" fill="${colorOf(c.level)}"><title>${e(`${c.name}: ${label}`)}</title><rect class="base" x="0" y="${H - 0.5}" width="${24 * bw}" height="0.5"/>${bars}</svg>`;
}

/** A 100%-wide bar split in parts, for headline shares. */
function shareBar(parts: { value: number; color: string; label: string }[], title: string): string {
  const total = parts.reduce((s, p) => s + p.value, 0);
  const W = 300;
  let x = 0;
  const rects = parts
    .map((p) => {
      const w = total > 0 ? (p.value / total) * W : 0;
      const r = w > 0 ? `<rect x="${r1(x)}" y="0" width="${r1(w)}" height="10" fill="${p.color}"><title>${e(p.label)}</title></rect>` : '';
      x += w;
      return r;
    })
    .join('');
  return `<svg class="sharebar" viewBox="0 0 ${W} 10" width="${W}" height="10" preserveAspectRatio="none" role="img" aria-label="${e(title)}"><title>${e(title)}</title>${rects}</svg>`;
}

const CSS = `
:root{color-scheme:light;--fg:#1f2328;--muted:#59636e;--line:#d0d7de;--panel:#f6f8fa;--up:#1864ab;--down:#c2410c;--bad:#b42318;--bad-bg:#fef3f2;--warn:#8a5a00;--warn-bg:#fff8e1;--ok:#1a7f37;--ok-bg:#eefbf1}
*{box-sizing:border-box}
html{background:#fff}
body{margin:0;color:var(--fg);background:#fff;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1040px;margin:0 auto;padding:20px 24px 40px}
a{color:#0b57d0}
h1{font-size:28px;margin:2px 0 4px}
h2{font-size:20px;margin:0 0 6px}
h3{font-size:15px;margin:14px 0 4px;display:flex;align-items:center;gap:8px}
.eyebrow{font-size:13px;letter-spacing:.06em;text-transform:uppercase;color:var(--muted);font-weight:600}
.meta,.muted,.note{color:var(--muted)}
.note{font-size:13px;margin:4px 0 8px}
section{margin-top:26px;padding-top:6px;border-top:1px solid var(--line)}
.num,td.num,th.num{font-variant-numeric:tabular-nums;text-align:right;white-space:nowrap}
.kpis{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin-top:16px;border-top:0;padding:0}
.kpi{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:12px 14px}
.kpi .label{font-size:13px;color:var(--muted);font-weight:600}
.kpi .value{font-size:30px;font-weight:700;font-variant-numeric:tabular-nums;line-height:1.2;margin:2px 0}
.kpi .sub{font-size:13px;color:var(--muted)}
.kpi.bad{background:var(--bad-bg);border-color:#f3b5ae}.kpi.bad .value{color:var(--bad)}
.kpi.warn{background:var(--warn-bg);border-color:#f0d58c}.kpi.warn .value{color:var(--warn)}
.kpi.ok .value{color:var(--ok)}
.kpi a{color:inherit}
.sharebar{display:block;width:100%;height:10px;margin-top:8px;border-radius:5px;background:#e6e9ed}
.banner{margin-top:14px;border-radius:8px;padding:10px 14px;font-weight:600;border:1px solid}
.banner.bad{background:var(--bad-bg);border-color:#f3b5ae;color:var(--bad)}
.banner.warn{background:var(--warn-bg);border-color:#f0d58c;color:var(--warn)}
nav.toc{margin-top:14px;font-size:14px}
nav.toc a{margin-right:14px}
.legend{display:flex;flex-wrap:wrap;gap:14px;font-size:13px;color:var(--muted);margin:4px 0 6px}
.lv-platform{background:${COLOR.platform}}.lv-manufacturer{background:${COLOR.manufacturer}}.lv-product{background:${COLOR.product}}
figure.level{margin:0}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-1px;margin-right:4px}
.tick{display:inline-block;width:2px;height:14px;background:#1f2328;vertical-align:-2px;margin-right:4px}
svg.chart{display:block;width:100%;height:auto;max-width:960px}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;font-size:13px;fill:#1f2328}
svg .colhead{font-size:12px;fill:#59636e;font-weight:600}
svg .group{font-size:12px;font-weight:700;fill:#59636e;text-transform:uppercase;letter-spacing:.05em}
svg .num{font-variant-numeric:tabular-nums}
svg .dim{fill:#59636e}
svg .zero .label{fill:#8c959f}
svg .track{fill:#eef1f4}
svg .prev{stroke:#1f2328;stroke-width:2}
svg .axis,svg .sep{stroke:#afb8c1;stroke-width:1}
svg .chg{font-size:12.5px;font-weight:600}
svg .chg.up,svg .bar.up{fill:var(--up)}
svg .chg.down,svg .bar.down{fill:var(--down)}
svg .chg.same,svg .chg.na{fill:#8c959f}
svg .cell{stroke:#e6e9ed;stroke-width:.5}
svg.spark{display:block;width:72px;height:18px}
svg.spark .base{fill:#d0d7de}
.up{color:var(--up)}.down{color:var(--down)}.same,.na{color:#8c959f}
table{border-collapse:collapse;width:100%;font-size:13.5px;margin:6px 0}
caption{text-align:left;font-size:13px;color:var(--muted);padding:4px 0}
th,td{padding:5px 8px;border-bottom:1px solid #e6e9ed;vertical-align:top;text-align:left}
thead th{font-size:12px;color:var(--muted);border-bottom:1px solid var(--line);white-space:nowrap}
tbody th{font-weight:600}
tr.zero td,tr.zero th{color:#8c959f}
tr.level td{background:var(--panel);font-weight:700;font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
td.id,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.lvl{display:inline-block;font-size:11px;font-weight:700;color:#fff;border-radius:3px;padding:0 5px;text-transform:uppercase;letter-spacing:.04em}
details{margin:8px 0}
summary{cursor:pointer;color:#0b57d0;font-size:14px}
.scroll{overflow-x:auto}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin:8px 0 12px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.card .value{font-size:22px;font-weight:700;font-variant-numeric:tabular-nums}
.card .label{font-size:13px;color:var(--muted)}
#quality.bad{border:2px solid var(--bad);background:var(--bad-bg);border-radius:10px;padding:14px 16px}
#quality.warn{border:2px solid #e3b341;background:var(--warn-bg);border-radius:10px;padding:14px 16px}
#quality.ok{border:1px solid #9fd9b0;background:var(--ok-bg);border-radius:10px;padding:14px 16px}
#quality h2 .status{font-size:14px;font-weight:700;border-radius:12px;padding:2px 10px;margin-left:8px;vertical-align:3px;color:#fff}
#quality.bad h2 .status{background:var(--bad)}#quality.warn h2 .status{background:#9a6700}#quality.ok h2 .status{background:var(--ok)}
ul.findings{list-style:none;padding:0;margin:8px 0}
ul.findings li{padding:6px 10px;border-radius:6px;margin:4px 0;background:#fff;border:1px solid var(--line)}
ul.findings li.problem{border-color:#f3b5ae;border-left:5px solid var(--bad)}
ul.findings li.notice{border-left:5px solid #d4a72c}
ul.findings .sev{font-weight:700;font-size:12px;text-transform:uppercase;letter-spacing:.04em;margin-right:6px}
ul.findings li.problem .sev{color:var(--bad)}ul.findings li.notice .sev{color:var(--warn)}
#quality table,#quality .card{background:#fff}
.card.bad{border-color:#f3b5ae}
td.bad{color:var(--bad);font-weight:700;background:var(--bad-bg)}
td.unk{color:#8c959f}td .unit{color:#57606a;font-size:.85em}
footer{margin-top:30px;font-size:12.5px;color:var(--muted)}
@media (max-width:760px){.kpis,.cards{grid-template-columns:1fr 1fr}}
@media print{details{display:block}section{break-inside:avoid-page}}
`;

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
  o.push(`<title>Haystack IoT detection report ${escapeHtml(data.day)}</title>`);
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
  svgSeq = 0;
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
      '<a href="#hourly">Hourly profile</a><a href="#all">All classes</a><a href="#hitlist">Hitlist</a><a href="#quality">Data quality</a></nav>',
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
    o.push(list.length ? barChart(data, level, list) : `<p class="note">No detectable ${level} class.</p>`);
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
