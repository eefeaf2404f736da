import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { canonicalAddress } from './pdns.js';
import { forEachLine } from './lines.js';
import { InputReport } from './report.js';

/** A certificate: its SHA-256 fingerprint (lower-case hex) and its names (subject CN and SANs). */
export interface CertNames {
  fingerprint: string;
  names: string[];
}

/** A host presenting a certificate on a port at a time (Unix seconds). */
export interface CertObservation {
  address: string;
  port: number;
  transport: 'tcp' | 'udp';
  fingerprint: string;
  /** Hash of the service banner (as given, or SHA-256 of the banner text); '' when unknown. */
  bannerHash: string;
  time: number;
}

/**
 * A source of certificate/host scan data (Censys-style). File inputs now; a Censys or
 * scanner API client implements the same interface later.
 */
export interface CertInput {
  readonly name: string;
  read(onCert: (c: CertNames) => void, onObservation: (o: CertObservation) => void, report: InputReport): Promise<void>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const get = (o: unknown, ...path: string[]): unknown => {
  let cur = o;
  for (const k of path) {
    if (!isObj(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
};

function fingerprintOf(v: unknown): string | null | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') return null;
  const h = v.toLowerCase().replaceAll(':', '');
  return /^[0-9a-f]{64}$/.test(h) ? h : null;
}

/** Names as written, lower-cased without the trailing dot; unparseable names are kept so they still disqualify. */
function namesOf(...candidates: unknown[]): string[] | null | undefined {
  for (const c of candidates) {
    if (c === undefined || c === null) continue;
    if (!Array.isArray(c)) return null;
    const out: string[] = [];
    for (const n of c) {
      if (typeof n !== 'string') return null;
      const t = n.trim().toLowerCase().replace(/\.$/, '');
      if (t) out.push(t);
    }
    return out;
  }
  return undefined;
}

function timeOf(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v > 1e12 ? Math.floor(v / 1000) : v;
  if (typeof v === 'string') {
    if (/^\d+$/.test(v)) return timeOf(Number(v));
    const ms = Date.parse(v);
    return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
  }
  return null;
}

function portOf(v: unknown): number | null {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535 ? n : null;
}

function bannerHashOf(svc: Obj): string {
  const h = svc.banner_hash ?? (Array.isArray(svc.banner_hashes) ? svc.banner_hashes[0] : undefined);
  if (typeof h === 'string' && h) return h.toLowerCase();
  if (typeof svc.banner === 'string' && svc.banner) return 'sha256:' + createHash('sha256').update(svc.banner).digest('hex');
  return '';
}

/**
 * Parse one scan line. Accepted shapes:
 * - certificate: `{fingerprint_sha256, names}` (or `parsed.names`, `parsed.fingerprint_sha256`);
 * - flat observation: `{ip, port, fingerprint_sha256, names?, banner_hash?, observed_at?, transport?}`;
 * - Censys host: `{ip, services: [{port, transport_protocol, banner_hash(es)|banner,
 *   tls: {certificates: {leaf_fp_sha256, leaf_data: {names}}}, observed_at?}], last_updated_at?}`.
 */
export function parseCertLine(rec: Obj, line: number, report: InputReport, onCert: (c: CertNames) => void, onObs: (o: CertObservation) => void): void {
  const ipRaw = rec.ip;
  if (ipRaw === undefined) {
    const fp = fingerprintOf(rec.fingerprint_sha256 ?? get(rec, 'parsed', 'fingerprint_sha256') ?? rec.fingerprint);
    if (fp === undefined) return report.skip(line, 'neither ip nor certificate fingerprint');
    if (fp === null) return report.skip(line, 'invalid certificate fingerprint');
    const names = namesOf(rec.names, get(rec, 'parsed', 'names'));
    if (names === null) return report.skip(line, 'invalid certificate names');
    if (names === undefined || names.length === 0) return report.skip(line, 'certificate without names');
    report.records++;
    onCert({ fingerprint: fp, names });
    return;
  }
  if (typeof ipRaw !== 'string' || isIP(ipRaw) === 0) return report.skip(line, 'invalid ip', JSON.stringify(ipRaw)?.slice(0, 60));
  const address = canonicalAddress(ipRaw);
  const hostTime = rec.observed_at ?? rec.last_updated_at ?? rec.timestamp ?? rec.time;
  const services: Obj[] = Array.isArray(rec.services) ? rec.services.filter(isObj) : [rec];
  if (Array.isArray(rec.services) && services.length !== rec.services.length) report.skip(line, 'invalid service entry');
  for (const svc of services) {
    const port = portOf(svc.port);
    if (port === null) {
      report.skip(line, 'missing or invalid port');
      continue;
    }
    const tp = typeof svc.transport_protocol === 'string' ? svc.transport_protocol : typeof svc.transport === 'string' ? svc.transport : 'tcp';
    const transport = tp.toLowerCase() === 'udp' ? 'udp' : 'tcp';
    const fp = fingerprintOf(
      get(svc, 'tls', 'certificates', 'leaf_fp_sha256') ??
        get(svc, 'tls', 'certificate', 'fingerprint_sha256') ??
        svc.certificate ??
        svc.fingerprint_sha256 ??
        svc.fingerprint,
    );
    if (fp === undefined) {
      report.ignore('service without certificate');
      continue;
    }
    if (fp === null) {
      report.skip(line, 'invalid certificate fingerprint');
      continue;
    }
    const names = namesOf(
      get(svc, 'tls', 'certificates', 'leaf_data', 'names'),
      get(svc, 'tls', 'certificate', 'names'),
      svc.names,
      get(svc, 'parsed', 'names'),
    );
    if (names === null) {
      report.skip(line, 'invalid certificate names');
      continue;
    }
    const time = timeOf(svc.observed_at ?? hostTime);
    if (time === null) {
      report.skip(line, 'missing or invalid observation time');
      continue;
    }
    if (names && names.length) onCert({ fingerprint: fp, names });
    report.records++;
    onObs({ address, port, transport, fingerprint: fp, bannerHash: bannerHashOf(svc), time });
  }
}

/** A plain or gzipped JSON-lines file of certificate and host scan records. */
export class CertFileInput implements CertInput {
  constructor(readonly path: string) {}

  get name(): string {
    return this.path;
  }

  async read(onCert: (c: CertNames) => void, onObs: (o: CertObservation) => void, report: InputReport): Promise<void> {
    try {
      await forEachLine(
        this.path,
        (text, line) => {
          report.lines = line;
          if (/^\s*$/.test(text)) return report.ignore('blank line');
          let o: unknown;
          try {
            o = JSON.parse(text);
          } catch {
            return report.skip(line, 'invalid JSON', text.slice(0, 80));
          }
          if (!isObj(o)) return report.skip(line, 'not a JSON object');
          parseCertLine(o, line, report, onCert, onObs);
        },
        {
          onTooLong: (line, bytes) => {
            report.lines = line;
            report.skip(line, 'line too long', `${bytes} bytes`);
          },
        },
      );
    } catch (e) {
      report.warn(`${this.path}: read stopped early: ${(e as Error).message}`);
    }
  }
}
