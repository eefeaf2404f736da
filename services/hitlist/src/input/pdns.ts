import { isIP } from 'node:net';
import { formatAddress, parseAddress } from '@haystack/common';
import { normalizeName } from '@haystack/rules';
import { forEachLine } from './lines.js';
import { InputReport } from './report.js';

/**
 * One passive DNS fact, normalised: lower-case names without the trailing dot, one rdata
 * value per record (arrays are split), addresses in canonical text (dotted quad for IPv4,
 * RFC 5952 for IPv6), times in Unix seconds (inclusive).
 */
export interface PdnsRecord {
  rrname: string;
  rrtype: 'A' | 'AAAA' | 'CNAME';
  rdata: string;
  timeFirst: number;
  timeLast: number;
  count?: number;
}

/**
 * A source of passive DNS records. File inputs now; an API client (DNSDB, the operator's own
 * resolver logs) implements the same interface later. `read` delivers every usable record
 * once and reports what it skipped; it rejects only when the source itself cannot be read.
 */
export interface PdnsInput {
  readonly name: string;
  read(onRecord: (r: PdnsRecord) => void, report: InputReport): Promise<void>;
}

const WANTED = new Set(['A', 'AAAA', 'CNAME']);

function num(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v)) return Number(v);
  return null;
}

/**
 * Parse one Common Output Format object (DNSDB v1 lines, or the `obj` of a DNSDB API v2
 * line) and deliver its records. Returns a skip reason, or null when it was used or ignored.
 */
export function parseCofObject(o: Record<string, unknown>, line: number, report: InputReport, onRecord: (r: PdnsRecord) => void): void {
  const rrnameRaw = o.rrname;
  if (typeof rrnameRaw !== 'string') return report.skip(line, 'missing rrname');
  const rrtype = o.rrtype;
  if (typeof rrtype !== 'string') return report.skip(line, 'missing rrtype');
  const type = rrtype.toUpperCase();
  if (!WANTED.has(type)) return report.ignore(`rrtype ${type}`);
  const rrname = normalizeName(rrnameRaw);
  if (rrname === null) return report.skip(line, 'invalid rrname', JSON.stringify(rrnameRaw).slice(0, 120));
  // Sensor data carries time_*, zone transfers zone_time_*; prefer the sensor pair.
  let t1 = num(o.time_first);
  let t2 = num(o.time_last);
  if (t1 === null && t2 === null) {
    t1 = num(o.zone_time_first);
    t2 = num(o.zone_time_last);
  }
  if (t1 === null || t2 === null) return report.skip(line, 'missing or invalid time_first/time_last');
  if (t2 < t1) return report.skip(line, 'time_last before time_first');
  const rd = o.rdata;
  const values = typeof rd === 'string' ? [rd] : Array.isArray(rd) ? rd : null;
  if (values === null || values.length === 0) return report.skip(line, 'missing rdata');
  const count = num(o.count) ?? undefined;
  for (const v of values) {
    if (typeof v !== 'string') {
      report.skip(line, 'invalid rdata value', JSON.stringify(v)?.slice(0, 80));
      continue;
    }
    let rdata: string | null;
    if (type === 'CNAME') {
      rdata = normalizeName(v);
      if (rdata === null) {
        report.skip(line, 'invalid CNAME target', JSON.stringify(v).slice(0, 120));
        continue;
      }
    } else {
      const fam = isIP(v);
      if ((type === 'A' && fam !== 4) || (type === 'AAAA' && fam !== 6)) {
        report.skip(line, `invalid ${type} address`, JSON.stringify(v).slice(0, 80));
        continue;
      }
      rdata = canonicalAddress(v);
    }
    report.records++;
    onRecord({ rrname, rrtype: type as PdnsRecord['rrtype'], rdata, timeFirst: t1, timeLast: t2, count });
  }
}

/** One text form per address, so IPv6 written two ways is one address. */
export function canonicalAddress(text: string): string {
  return formatAddress(parseAddress(text));
}

/**
 * A file of passive DNS, plain or gzipped, in either shape:
 * - Common Output Format: one JSON object per line;
 * - DNSDB API v2 stream: `{"cond":"begin"}`, `{"obj":{...}}` per record, then
 *   `{"cond":"succeeded"|"limited"|"failed"}`; a limited, failed or unterminated stream is
 *   reported as a warning (the data is incomplete), its records are still used.
 */
export class PdnsFileInput implements PdnsInput {
  constructor(readonly path: string) {}

  get name(): string {
    return this.path;
  }

  async read(onRecord: (r: PdnsRecord) => void, report: InputReport): Promise<void> {
    let sawBegin = false;
    let terminal: string | null = null;
    try {
      await forEachLine(
        this.path,
        (text, line) => {
          report.lines = line;
          if (text.length === 0 || /^\s*$/.test(text)) return report.ignore('blank line');
          let o: unknown;
          try {
            o = JSON.parse(text);
          } catch {
            return report.skip(line, 'invalid JSON', text.slice(0, 400));
          }
          if (o === null || typeof o !== 'object' || Array.isArray(o)) return report.skip(line, 'not a JSON object');
          const rec = o as Record<string, unknown>;
          if ('obj' in rec) {
            const inner = rec.obj;
            if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) return report.skip(line, 'DNSDB "obj" is not an object');
            return parseCofObject(inner as Record<string, unknown>, line, report, onRecord);
          }
          if (typeof rec.cond === 'string' && !('rrname' in rec)) {
            if (rec.cond === 'begin') sawBegin = true;
            else if (rec.cond === 'ongoing') return;
            else {
              terminal = rec.cond;
              if (rec.cond !== 'succeeded')
                report.warn(
                  `${this.path}:${line}: DNSDB stream ended "${rec.cond}"${typeof rec.msg === 'string' ? `: ${rec.msg}` : ''}; its results are incomplete`,
                );
            }
            return;
          }
          parseCofObject(rec, line, report, onRecord);
        },
        {
          onTooLong: (line, bytes) => {
            report.lines = line;
            report.skip(line, 'line too long', `${bytes} bytes`);
          },
        },
      );
    } catch (e) {
      // A damaged file (e.g. truncated gzip): keep what was read, report the rest.
      report.warn(`${this.path}: read stopped early: ${(e as Error).message}`);
    }
    if (sawBegin && terminal === null) report.warn(`${this.path}: DNSDB stream has no terminating "cond" line; it may be truncated`);
  }
}
