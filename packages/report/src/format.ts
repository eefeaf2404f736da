import type { Level, ReportClass, ReportData } from './data.js';

export const LEVELS: readonly Level[] = ['platform', 'manufacturer', 'product'];
export const LEVEL_TITLE: Record<Level, string> = { platform: 'Platforms', manufacturer: 'Manufacturers', product: 'Products' };

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

export function signedPct(rel: number, minus: string): string {
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
export function hours(c: ReportClass): number[] {
  const h = Array.isArray(c.hourly) ? c.hourly.slice(0, 24) : [];
  while (h.length < 24) h.push(0);
  return h.map((v) => (Number.isFinite(v) && v > 0 ? v : 0));
}

export function peakHour(h: number[]): number | null {
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
export const SFLOW_VERSION = 133;
export const hasSflow = (d: ReportData): boolean => d.quality.exporters.some((e) => e.version === SFLOW_VERSION);

export function versionName(v: number): string {
  return v === 10 ? 'IPFIX' : v === SFLOW_VERSION ? 'sFlow v5' : `NetFlow v${v}`;
}

/** IXP: the members section as text lines. */
export function fmtBytes(n: number): string {
  const u = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${u[i]}`;
}

export function fmtRates(rates: number[]): string {
  if (!rates || rates.length === 0) return 'none seen';
  return [...rates]
    .sort((a, b) => a - b)
    .map((r) => (r === 0 ? 'unknown' : `1:${r}`))
    .join(', ');
}

/** What the report counts as a line, said plainly (shares depend on it). */
export const LINE_MEANING =
  'a line is one IPv4 address or one IPv6 prefix (ingest.ipv6LinePrefixLength); a dual-stack subscriber counts once only where detector.subscriberMap names its addresses';
/** At an IXP (deployment: ixp). */
export const HOST_MEANING =
  'a host is the end of a flow that is not on the hitlist: one IPv4 address or one IPv6 prefix (ixp.hostPrefixLength6), attributed to the member network it sits behind';

export const pluralOf = (n: number, w: string) => `${fmtInt(n)} ${w}${n === 1 ? '' : w.endsWith('s') ? 'es' : 's'}`;

/** Replace C0/C1 controls (terminal escapes) and bidi overrides with U+FFFD. */
export function termSafe(s: string): string {
  return String(s).replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '\uFFFD');
}

export const cpLen = (s: string) => [...s].length;
export function cut(s: string, max: number): string {
  const cps = [...s];
  return cps.length <= max ? s : cps.slice(0, max - 1).join('') + '…';
}
export const padEnd = (s: string, n: number) => s + ' '.repeat(Math.max(0, n - cpLen(s)));
export const padStart = (s: string, n: number) => ' '.repeat(Math.max(0, n - cpLen(s))) + s;

/** Escape text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

export const MINUS = '\u2212';
