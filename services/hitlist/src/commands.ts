import type { EnrichOptions } from '@haystack/backends';
import { backendsSummary } from './backends.js';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '@haystack/common';
import { buildHitlist, type BuildReport, type BuildResult } from './build.js';
import { diffHitlists, type Churn } from './churn.js';
import type { DomainDecision } from './classify.js';
import { textTable } from './table.js';
import { addDays, parseDay } from './days.js';
import { dayDir, readChurn, readDecisions, readReport, writeDayFiles } from './files.js';
import { HitlistHistory } from './history.js';
import { ClickHouseBusyError } from '@haystack/clickhouse';
import { CertFileInput } from './input/certs.js';
import { PdnsFileInput, type PdnsInput } from './input/pdns.js';
import { PdnsStoreInput } from './input/pdns-store.js';
import type { InputReportJSON } from './input/report.js';
import { loadRules } from '@haystack/rules';
import type { Policy } from '@haystack/rules';
import { RedisHitlistStore, hasDay, readHitlist, type Hitlist } from '@haystack/hitlist-contract';

/**
 * What `haystack hitlist build|show|diff` do, apart from argument parsing (apps/cli/src/commands/hitlist.ts): testable here, and usable by other front ends.
 */
export class HitlistCommandError extends Error {
  readonly userFacing = true;
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

export interface BuildCommandOptions {
  day: string;
  pdns: string[];
  /** Also read the passive DNS `haystack pdns` collected from the operator's resolvers (ClickHouse). */
  pdnsStore?: boolean;
  /** pdns.retentionDays, for the table's TTL when the store creates it. */
  pdnsRetentionDays?: number;
  certs: string[];
  /** Extra copy of the day's files (hitlist.csv, hitlist.json, decisions ...). */
  out?: string;
  rulesDir: string;
  stateDir: string;
  tmpDir?: string;
  policy: Partial<Policy>;
  /** Publish to Redis when `redis.url` is set (embedded: the files are the hand-off). */
  publish: boolean;
  activate: boolean;
  /** Record the build in ClickHouse (chdb under <stateDir>/chdb unless `clickhouse.url`). */
  history: boolean;
  redis: { url: string | null; keyPrefix: string };
  clickhouse: { url: string | null; database: string; username: string; password: string; cluster?: { name: string; shards: number } | null };
  json: boolean;
  log: Logger;
  /** Where the hitlist's backends live (config `backends`); null or absent: not enriched. */
  backends?: EnrichOptions | null;
  /** Activate even a hitlist that shrank by more than policy.maxShrink against the latest built day. */
  force?: boolean;
  /**
   * When another process holds the embedded store (`haystack run`): have it record the day's
   * files in the history (through its console). Resolves to what was recorded, or null when no
   * such process answers; rejects with the reason it refused.
   */
  recordThroughHolder?: (day: string) => Promise<string | null>;
}

const fmt = (n: number) => n.toLocaleString('en-US');

function checkFiles(kind: string, files: string[]): void {
  for (const f of files) {
    if (!existsSync(f) || !statSync(f).isFile()) throw new HitlistCommandError(`${kind} input ${f}: no such file`);
  }
}

/** An input that is not what it claims (no valid record, mostly invalid lines, empty) fails the build, naming the file and the counts. */
function refuseBadInputs(inputs: BuildReport['inputs'], policy: Policy): void {
  const problems: string[] = [];
  for (const [kind, reports] of [
    ['passive DNS', inputs.pdns],
    ['certificate', inputs.certs],
  ] as const) {
    for (const r of reports) {
      const skipped = Object.values(r.skipped).reduce((a, n) => a + n, 0);
      const why = Object.entries(r.skipped)
        .map(([k, n]) => `${fmt(n)} ${k}`)
        .join(', ');
      const sample = r.samples[0] ? ` (line ${r.samples[0].line}: ${r.samples[0].reason})` : '';
      if (r.lines === 0) problems.push(`${kind} input ${r.input} is empty`);
      else if (r.records === 0 && skipped > 0)
        problems.push(`${kind} input ${r.input} has no valid record: ${fmt(skipped)} of ${fmt(r.lines)} lines invalid (${why})${sample}`);
      else if (r.records === 0)
        problems.push(`${kind} input ${r.input} has no usable record in ${fmt(r.lines)} lines (only blank lines or record types the build does not use)`);
      else if (skipped > policy.maxInvalidShare * (skipped + r.records))
        problems.push(
          `${kind} input ${r.input}: ${fmt(skipped)} invalid lines against ${fmt(r.records)} valid records, more than ${Math.round(policy.maxInvalidShare * 100)} % (policy maxInvalidShare; ${why})${sample}`,
        );
    }
  }
  if (problems.length) throw new HitlistCommandError(`${problems.join('\n')}\nnothing was written or published; the last good hitlist stays in use`, 1);
}

/** The newest day on or before `day` that has a built hitlist (the same day when rebuilding). */
function latestBuiltDay(stateDir: string, day: string): { day: string; hitlist: Hitlist } | null {
  const root = join(stateDir, 'hitlist');
  if (!existsSync(root)) return null;
  const days = readdirSync(root)
    .filter((d) => /^\d{4}-\d{2}-\d{2}$/.test(d) && d <= day && hasDay(join(root, d)))
    .sort();
  const last = days.at(-1);
  return last ? { day: last, hitlist: readHitlist(join(root, last)) } : null;
}

function describeInputs(reports: InputReportJSON[]): string[] {
  return reports.map((r) => {
    const skipped = Object.entries(r.skipped);
    const total = skipped.reduce((a, [, n]) => a + n, 0);
    let s = `  ${r.input}: ${fmt(r.lines)} lines, ${fmt(r.records)} records`;
    if (total) s += `, ${fmt(total)} skipped (${skipped.map(([k, n]) => `${k} ${fmt(n)}`).join(', ')})`;
    for (const x of r.samples.slice(0, 3)) s += `\n    ${x.file}:${x.line}: ${x.reason}`;
    for (const w of r.warnings) s += `\n    warning: ${w}`;
    return s;
  });
}

function describeChurn(c: Churn): string {
  return (
    `churn ${c.from} → ${c.to}: entries +${fmt(c.entries.added)} −${fmt(c.entries.removed)} (${fmt(c.entries.before)} → ${fmt(c.entries.after)}), ` +
    `addresses +${fmt(c.addresses.added)} −${fmt(c.addresses.removed)}, domains +${c.domains.added.length} −${c.domains.removed.length}, ` +
    `${c.classes.length} class rule(s) changed`
  );
}

export async function runBuildCommand(o: BuildCommandOptions, write: (s: string) => void): Promise<BuildResult> {
  try {
    parseDay(o.day);
  } catch (e) {
    throw new HitlistCommandError((e as Error).message);
  }
  if (o.pdns.length === 0 && !o.pdnsStore) throw new HitlistCommandError('give at least one --pdns file, or --pdns-store');
  checkFiles('passive DNS', o.pdns);
  checkFiles('certificate', o.certs);
  const rules = loadRules(o.rulesDir);
  const prevDir = dayDir(o.stateDir, addDays(o.day, -1));
  const previous = hasDay(prevDir) ? readHitlist(prevDir) : null;
  o.log.info({ day: o.day, rules: o.rulesDir, digest: rules.digest.slice(0, 12), pdns: o.pdns, certs: o.certs }, 'building hitlist');

  const result = await buildHitlist({
    day: o.day,
    rules,
    pdns: [
      ...o.pdns.map((p): PdnsInput => new PdnsFileInput(p)),
      ...(o.pdnsStore
        ? [
            new PdnsStoreInput(
              {
                url: o.clickhouse.url,
                dataDir: join(o.stateDir, 'chdb'),
                database: o.clickhouse.database,
                username: o.clickhouse.username,
                password: o.clickhouse.password,
              },
              o.day,
              o.pdnsRetentionDays,
            ),
          ]
        : []),
    ],
    certs: o.certs.map((p) => new CertFileInput(p)),
    policy: o.policy,
    tmpDir: o.tmpDir,
    previous,
    onProgress: (msg, data) => o.log.info(data, msg),
    backends: o.backends ?? null,
  });

  if (result.backendsError) o.log.warn({ reason: result.backendsError }, 'backend data not computed for this build (the hitlist itself is fine)');
  // Nothing is written, published or recorded before these checks pass: the last good
  // hitlist keeps serving everywhere it is published.
  refuseBadInputs(result.report.inputs, result.report.policy);
  const prior = latestBuiltDay(o.stateDir, o.day);
  if (prior && !o.force) {
    const before = prior.hitlist.entries.length;
    const now = result.hitlist.entries.length;
    if (now < before * (1 - result.report.policy.maxShrink))
      throw new HitlistCommandError(
        `refusing to replace the hitlist: ${fmt(now)} entries against ${fmt(before)} in the hitlist of ${prior.day} (a drop of more than ${Math.round(result.report.policy.maxShrink * 100)} %, policy maxShrink); ` +
          `check the inputs, or give --force to use it anyway. The hitlist of ${prior.day} stays in use.`,
        1,
      );
  }

  const dir = dayDir(o.stateDir, o.day);
  const written = [await writeDayFiles(dir, result)];
  if (o.out) written.push(await writeDayFiles(resolve(o.out), result));

  let published: string | null = null;
  if (o.publish && o.redis.url) {
    const store = new RedisHitlistStore({ url: o.redis.url, keyPrefix: o.redis.keyPrefix });
    try {
      const p = await store.publish(result.hitlist, { activate: o.activate });
      published = `Redis: day ${p.day} version ${p.version}${o.activate ? `, active (switch ${p.seq})` : ', not activated'}`;
    } finally {
      await store.close();
    }
  } else if (o.publish) {
    published = 'embedded (no redis.url): detectors in other processes read the day files';
  }

  let history: string | null = null;
  let h: HitlistHistory | null = null;
  if (o.history) {
    try {
      h = await HitlistHistory.open({
        cluster: o.clickhouse.cluster ?? null,
        url: o.clickhouse.url,
        dataDir: join(o.stateDir, 'chdb'),
        database: o.clickhouse.database,
        username: o.clickhouse.username,
        password: o.clickhouse.password,
      });
    } catch (e) {
      if (!(e instanceof ClickHouseBusyError)) throw e;
      // `haystack run` holds the embedded store: the day files are written (its detector follows
      // them); the process holding the store records the history from them (console API).
      let via: string | null = null;
      let why = 'and no console of it answers (console.listen)';
      try {
        via = o.recordThroughHolder ? await o.recordThroughHolder(o.day) : null;
      } catch (err) {
        why = `and it did not record the build: ${(err as Error).message}`;
      }
      if (via) history = via;
      else {
        history = `NOT recorded: ${e.dataDir} is in use by a running process (haystack run?) ${why}; its detector uses the day files above. Build again once it serves its console, or after stopping it, to record the history.`;
        o.log.warn({ dataDir: e.dataDir }, 'hitlist history not recorded: the embedded store is in use by another process');
      }
    }
  }
  if (h) {
    try {
      const n = await h.record(result);
      history = `ClickHouse ${h.ch.mode}: ${fmt(n.entries)} entry rows, ${n.classes} class and ${n.domains} domain decisions`;
    } finally {
      await h.close();
    }
  }

  if (o.json) {
    write(
      JSON.stringify(
        {
          report: result.report,
          churn: result.churn,
          backends: result.backends
            ? { datasets: result.backends.datasets, unknown: result.backends.unknown, addresses: result.backends.backends.length }
            : null,
          files: written.map((w) => w.dir),
          published,
          history,
        },
        null,
        1,
      ) + '\n',
    );
    return result;
  }
  const r = result.report;
  const lines = [
    `hitlist ${r.day} (window ${r.window.from}..${r.window.to}, ${r.window.days} day(s)), rules ${r.rulesDigest.slice(0, 12)}`,
    'passive DNS:',
    ...describeInputs(r.inputs.pdns),
    ...(r.inputs.certs.length ? ['certificates:', ...describeInputs(r.inputs.certs)] : []),
    `resolution: ${fmt(r.resolve.inWindow)} records in the window, ${r.resolve.forwardPasses} forward and ${r.resolve.reversePasses} reverse pass(es), ${fmt(r.resolve.addresses)} addresses examined`,
    `domains: ${Object.entries(r.domains)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ')}`,
    `classes: ${Object.entries(r.classes)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ')}`,
    `rules: ${
      Object.entries(r.levels)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ') || 'none'
    }`,
    `hitlist: ${fmt(r.entries)} entries, ${fmt(r.addresses)} addresses`,
    ...(result.backends ? [backendsSummary(result.backends)] : result.backendsError ? [`backends: not computed: ${result.backendsError}`] : []),
    result.churn ? describeChurn(result.churn) : `churn: no hitlist for ${addDays(o.day, -1)} in ${prevDir}`,
    `wrote: ${written.map((w) => w.dir).join(', ')}`,
    ...(published ? [`published: ${published}`] : []),
    ...(history ? [`history: ${history}`] : []),
    `took ${r.seconds.toFixed(1)} s`,
  ];
  write(lines.join('\n') + '\n');
  return result;
}

export interface ShowCommandOptions {
  stateDir: string;
  day: string;
  /** Read from this directory instead of <stateDir>/hitlist/<day>. */
  dir?: string;
  json: boolean;
}

export function runShowCommand(o: ShowCommandOptions, write: (s: string) => void): void {
  const dir = o.dir ? resolve(o.dir) : dayDir(o.stateDir, o.day);
  const h = readHitlist(dir);
  const d = readDecisions(dir);
  const report = readReport(dir);
  const churn = readChurn(dir);
  // Addresses per rule class, from the hitlist itself.
  const addrs = new Map<string, Set<string>>();
  for (const e of h.entries)
    for (const di of e.domains)
      for (const ci of h.domains[di]!.classes) {
        const id = h.classes[ci]!.id;
        let s = addrs.get(id);
        if (!s) addrs.set(id, (s = new Set()));
        s.add(e.address);
      }
  if (o.json) {
    write(
      JSON.stringify(
        {
          day: h.day,
          window: h.window,
          rulesDigest: h.rulesDigest,
          classes: d.classes.map((c) => ({ ...c, addresses: addrs.get(c.class)?.size ?? 0 })),
          domains: d.domains,
          churn,
          report,
        },
        null,
        1,
      ) + '\n',
    );
    return;
  }
  const rows = d.classes
    .slice()
    .sort((a, b) => order(a.status) - order(b.status) || a.kind.localeCompare(b.kind) || a.class.localeCompare(b.class))
    .map((c) => [
      c.class,
      c.kind,
      c.status,
      c.level ?? '-',
      c.detectedAs && c.detectedAs !== c.class ? c.detectedAs : '-',
      String(c.evidence.length),
      String(addrs.get(c.class)?.size ?? 0),
      c.status === 'detectable' ? '' : c.reason,
    ]);
  const out = [
    `hitlist ${h.day} (window ${h.window.from}..${h.window.to}), ${h.rules.length} rules, ${fmt(new Set(h.entries.map((e) => e.address)).size)} addresses, ${fmt(h.entries.length)} entries, rules ${h.rulesDigest.slice(0, 12)}`,
    `domains: ${Object.entries(report.domains)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ')}`,
    ...textTable(['CLASS', 'KIND', 'STATUS', 'LEVEL', 'VIA', 'EVIDENCE', 'ADDRESSES', 'REASON'], rows),
  ];
  // Families, name by name: how many names matched, and which addresses were kept or dropped.
  const fams = (d.domains as DomainDecision[]).filter((x) => x.family && x.family.names > 0);
  if (fams.length) {
    const fr = fams.map((x) => [
      x.domain,
      x.status,
      ...[x.family!.names, x.family!.dedicatedNames, x.family!.sharedNames, x.family!.excepted, x.family!.addressesKept, x.family!.addressesDropped].map(
        String,
      ),
      x.evidenceFor.join(' ') || '-',
    ]);
    out.push(
      '',
      `families seen in passive DNS (${fams.length}; names and addresses per family, reasons in domains.csv):`,
      ...textTable(['FAMILY', 'STATUS', 'NAMES', 'DEDICATED', 'SHARED', 'EXCEPTED', 'KEPT', 'DROPPED', 'EVIDENCE FOR'], fr),
    );
  }
  if (churn) out.push(describeChurn(churn));
  write(out.join('\n') + '\n');
}

function order(s: string): number {
  return ['detectable', 'coarser', 'removed', 'not-detectable'].indexOf(s);
}

export interface DiffCommandOptions {
  stateDir: string;
  from: string;
  to: string;
  json: boolean;
}

export function runDiffCommand(o: DiffCommandOptions, write: (s: string) => void): Churn {
  const c = diffHitlists(readHitlist(dayDir(o.stateDir, o.from)), readHitlist(dayDir(o.stateDir, o.to)));
  if (o.json) {
    write(JSON.stringify(c, null, 1) + '\n');
    return c;
  }
  const out = [describeChurn(c)];
  if (c.domains.added.length) out.push(`domains added: ${c.domains.added.join(', ')}`);
  if (c.domains.removed.length) out.push(`domains removed: ${c.domains.removed.join(', ')}`);
  for (const x of c.classes)
    out.push(
      `class ${x.class}: ${x.before ?? 'not detectable'} → ${x.after ?? 'not detectable'}` +
        (x.evidenceAdded.length ? `, evidence +${x.evidenceAdded.join(' +')}` : '') +
        (x.evidenceRemoved.length ? `, evidence −${x.evidenceRemoved.join(' −')}` : ''),
    );
  const moved = c.byDomain.filter((d) => d.added || d.removed);
  if (moved.length) {
    out.push('DOMAIN  +ENTRIES  −ENTRIES  KEPT');
    for (const d of moved) out.push(`${d.domain}  +${d.added}  −${d.removed}  ${d.kept}`);
  }
  write(out.join('\n') + '\n');
  return c;
}
