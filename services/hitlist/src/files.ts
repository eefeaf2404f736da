import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildReport, BuildResult } from './build.js';
import type { Churn } from './churn.js';
import type { Classification, ClassDecision, DomainDecision } from './classify.js';
import { parseDay } from './days.js';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { loadHitlist, MissingDayError, type Hitlist } from '@haystack/hitlist-contract';
import type { RecordableBuild } from './history.js';
import { backendsFileSchema, type BuildBackends } from './backends.js';

/**
 * A day's hitlist on disk (default `<stateDir>/hitlist/<day>/`), so `hitlist show` and
 * `hitlist diff` need no server:
 * - `hitlist.csv`: header `address,port,transport,domain,class`, then one row per address,
 *   port, transport, evidence domain and class; nothing else;
 * - `hitlist.json`: the whole hitlist (tables, rules, entries);
 * - `rules.json`: the detection rules (class → level, evidence domains, threshold);
 * - `classes.csv`, `domains.csv`, `decisions.json`: every classification decision and its reason;
 * - `churn.json`: the change against the previous day (when it was available);
 * - `report.json`: inputs read, lines skipped and why, pass statistics, policy.
 * Every file is written to a temporary name and renamed, so readers never see half a file.
 */
export function dayDir(stateDir: string, day: string): string {
  parseDay(day);
  return join(stateDir, 'hitlist', day);
}

const csvCell = (v: string | number) => {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
};
const csvRow = (cells: (string | number)[]) => cells.map(csvCell).join(',') + '\n';

async function writeStreamed(path: string, produce: (write: (s: string) => Promise<void>) => Promise<void>): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const ws = createWriteStream(tmp);
  const done = new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.once('finish', () => resolve());
  });
  let failed: Error | null = null;
  ws.once('error', (e) => (failed = e));
  await produce(async (s) => {
    if (failed) throw failed;
    if (!ws.write(s)) await new Promise<void>((r) => ws.once('drain', () => r()));
  });
  ws.end();
  await done;
  renameSync(tmp, path);
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeStreamed(path, async (w) => w(JSON.stringify(value, null, 1) + '\n'));
}

export async function writeHitlistCsv(path: string, h: Hitlist): Promise<void> {
  await writeStreamed(path, async (w) => {
    await w('address,port,transport,domain,class\n');
    let buf = '';
    for (const e of h.entries) {
      for (const d of e.domains) {
        const dom = h.domains[d]!;
        for (const c of dom.classes) buf += csvRow([e.address, e.port, e.transport, dom.name, h.classes[c]!.id]);
      }
      if (buf.length > 1 << 16) {
        await w(buf);
        buf = '';
      }
    }
    if (buf) await w(buf);
  });
}

export async function writeHitlistJson(path: string, h: Hitlist): Promise<void> {
  // Entries one per line: large hitlists stay streamable and diffable.
  const { entries, ...meta } = h;
  await writeStreamed(path, async (w) => {
    const m = JSON.stringify(meta);
    await w(m.slice(0, -1) + ',"entries":[\n');
    let buf = '';
    for (let i = 0; i < entries.length; i++) {
      buf += (i ? ',\n' : '') + JSON.stringify(entries[i]);
      if (buf.length > 1 << 16) {
        await w(buf);
        buf = '';
      }
    }
    await w(buf + '\n]}\n');
  });
}

export interface DayFiles {
  dir: string;
  files: string[];
}

export async function writeDayFiles(dir: string, r: BuildResult): Promise<DayFiles> {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const put = async (name: string, f: (p: string) => Promise<void>) => {
    const p = join(dir, name);
    await f(p);
    files.push(p);
  };
  await put('hitlist.csv', (p) => writeHitlistCsv(p, r.hitlist));
  await put('hitlist.json', (p) => writeHitlistJson(p, r.hitlist));
  await put('rules.json', (p) =>
    writeJson(p, { day: r.hitlist.day, rulesDigest: r.hitlist.rulesDigest, window: r.hitlist.window, rules: r.classification.rules }),
  );
  await put('classes.csv', (p) =>
    writeStreamed(p, async (w) => {
      await w(
        csvRow([
          'class',
          'kind',
          'status',
          'level',
          'detected_as',
          'evidence_domains',
          'primary_domains',
          'dedicated',
          'shared',
          'unresolved',
          'addresses',
          'reason',
        ]),
      );
      for (const c of r.classification.classes)
        await w(
          csvRow([
            c.class,
            c.kind,
            c.status,
            c.level ?? '',
            c.detectedAs ?? '',
            c.evidence.length,
            c.primaryDomains,
            c.dedicatedPrimary,
            c.sharedPrimary,
            c.unresolvedPrimary,
            c.addresses,
            c.reason,
          ]),
        );
    }),
  );
  await put('domains.csv', (p) =>
    writeStreamed(p, async (w) => {
      // Family columns are empty for single-name domains (names matched, dedicated, shared, exceptions seen, addresses dropped).
      await w(
        csvRow([
          'domain',
          'role',
          'status',
          'via',
          'addresses',
          'evidence_for',
          'used_by',
          'reason',
          'names',
          'names_dedicated',
          'names_shared',
          'names_excepted',
          'addresses_dropped',
        ]),
      );
      for (const d of r.classification.domains) {
        const f = d.family;
        await w(
          csvRow([
            d.domain,
            d.role,
            d.status,
            d.via ?? '',
            d.addresses,
            d.evidenceFor.join(' '),
            d.usedBy.join(' '),
            d.reason,
            f?.names ?? '',
            f?.dedicatedNames ?? '',
            f?.sharedNames ?? '',
            f?.excepted ?? '',
            f?.addressesDropped ?? '',
          ]),
        );
      }
    }),
  );
  await put('decisions.json', (p) => writeJson(p, { day: r.hitlist.day, classes: r.classification.classes, domains: r.classification.domains }));
  if (r.churn) await put('churn.json', (p) => writeJson(p, r.churn));
  // Where the backends live; a rebuild without it leaves no older day's file behind.
  if (r.backends) await put('backends.json', (p) => writeJson(p, { day: r.hitlist.day, ...r.backends }));
  else rmSync(join(dir, 'backends.json'), { force: true });
  await put('report.json', (p) => writeJson(p, r.report));
  return { dir, files };
}

function readJson<T>(dir: string, name: string): T {
  const p = join(dir, name);
  if (!existsSync(p)) throw new MissingDayError(dir, name);
  return JSON.parse(readFileSync(p, 'utf8')) as T;
}

export function readDecisions(dir: string): { day: string } & Pick<Classification, 'classes' | 'domains'> {
  return readJson(dir, 'decisions.json');
}

export function readReport(dir: string): BuildReport {
  return readJson(dir, 'report.json');
}

export function readChurn(dir: string): Churn | null {
  return existsSync(join(dir, 'churn.json')) ? readJson<Churn>(dir, 'churn.json') : null;
}

const str = z.string();
const count = z.number().int().min(0);
const decisionsSchema = z.object({
  day: str,
  classes: z.array(
    z.looseObject({
      class: str,
      kind: str,
      status: str,
      level: str.nullable(),
      detectedAs: str.nullable(),
      evidence: z.array(str),
      primaryDomains: count,
      dedicatedPrimary: count,
      addresses: count,
      reason: str,
    }),
  ),
  domains: z.array(
    z.looseObject({ domain: str, role: str, status: str, via: str.nullable(), usedBy: z.array(str), evidenceFor: z.array(str), addresses: count, reason: str }),
  ),
});
const reportSchema = z.looseObject({ day: str, addresses: count });

async function readJsonFile(dir: string, name: string): Promise<unknown> {
  const p = join(dir, name);
  if (!existsSync(p)) throw new MissingDayError(dir, name);
  return JSON.parse(await readFile(p, 'utf8')) as unknown;
}

function checked<T>(name: string, schema: z.ZodType<T>, v: unknown): T {
  const r = schema.safeParse(v);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(`${name}: ${i.path.join('.') || '(top)'}: ${i.message}`);
  }
  return r.data;
}

/**
 * A built day's files read back as the history records them (the console records a build made
 * while `run` held the store). Read without blocking the event loop the collector shares, and
 * checked whole — shapes, the hitlist's references, one day across the files — before anything
 * recorded is replaced.
 */
export async function readBuiltDay(dir: string): Promise<RecordableBuild> {
  const hitlist = (await readJsonFile(dir, 'hitlist.json')) as Hitlist;
  try {
    loadHitlist(hitlist);
  } catch (e) {
    throw new Error(`hitlist.json: ${(e as Error).message}`, { cause: e });
  }
  const decisions = checked('decisions.json', decisionsSchema, await readJsonFile(dir, 'decisions.json'));
  const report = checked('report.json', reportSchema, await readJsonFile(dir, 'report.json'));
  if (decisions.day !== hitlist.day || report.day !== hitlist.day)
    throw new Error(`the files are of different days (hitlist.json ${hitlist.day}, decisions.json ${decisions.day}, report.json ${report.day})`);
  // Where the backends live: absent for days built without it (or before it existed).
  let backends: BuildBackends | undefined;
  if (existsSync(join(dir, 'backends.json'))) {
    const b = checked('backends.json', backendsFileSchema.extend({ day: z.string() }), await readJsonFile(dir, 'backends.json'));
    if (b.day !== hitlist.day) throw new Error(`the files are of different days (hitlist.json ${hitlist.day}, backends.json ${b.day})`);
    const inHitlist = new Set(hitlist.entries.map((e) => e.address));
    const stray = b.backends.find((x) => !inHitlist.has(x.address));
    if (stray) throw new Error(`backends.json: ${stray.address} is not an address of hitlist.json`);
    const { day: _day, ...rest } = b;
    backends = rest;
  }
  return {
    hitlist,
    report: report as unknown as BuildReport,
    classification: { classes: decisions.classes as unknown as ClassDecision[], domains: decisions.domains as unknown as DomainDecision[] },
    ...(backends ? { backends } : {}),
  };
}
