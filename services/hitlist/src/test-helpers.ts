import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDay } from './days.js';

/** Shared by the tests (not a test file itself). */
export function tempDir(prefix = 'hitlist-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeFile(path: string, text: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/** Unix seconds at `hour`:00 UTC of `day`. */
export function at(day: string, hour = 12): number {
  return parseDay(day) + hour * 3600;
}

/** One COF line valid from `from` to `to` (days, whole days). */
export function cof(rrname: string, rrtype: string, rdata: string | string[], from: string, to: string = from): string {
  return JSON.stringify({ rrname, rrtype, rdata, time_first: at(from, 0), time_last: at(to, 23) + 3599, count: 1 });
}

/** Repository root (services/hitlist/dist/<file> → ../../..). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** A small dictionary for tests: one file with everything. */
export const TEST_SOURCES = `
sources:
  - { id: test, title: test fixture }
`;

/** One maker, one product with two dedicated domains (stated product evidence): the command-layer tests' dictionary. */
export const ACME_RULES = `${TEST_SOURCES}
policy: { lookbackDays: 2 }
manufacturers:
  - { id: acme, name: Acme, source: [test] }
products:
  - { id: acme-cam, name: Acme cam, manufacturer: acme, source: [test] }
domains:
  - { domain: cam.acme.com, role: primary, ports: [tcp/443], used_by: [acme-cam], source: [test], product_evidence: [test] }
  - { domain: cdn.acme.com, role: primary, ports: [tcp/443], used_by: [acme-cam], source: [test], product_evidence: [test] }
`;
