import { isIP } from 'node:net';
import { openClickHouse, type ClickHouseOptions, type ClickHouseStore } from '@haystack/clickhouse';
import type { BuildResult } from './build.js';
import { dropPartitionSql, ensureSchema, TABLES } from '@haystack/store';

/** What the history keeps of a build: a fresh BuildResult, or a day's files read back ({@link readBuiltDay}). */
export type RecordableBuild = Pick<BuildResult, 'hitlist' | 'report' | 'backends'> & {
  classification: Pick<BuildResult['classification'], 'classes' | 'domains'>;
};

/**
 * Hitlist history in ClickHouse (embedded chdb or a server, through @haystack/clickhouse; its
 * tables are @haystack/store's): per day the hitlist entries, the classification decisions with
 * their reasons, and one row per build. Rebuilding a day replaces it (DROP PARTITION, then insert).
 */
const HISTORY_TABLES = [
  TABLES.hitlistEntries,
  TABLES.hitlistClassDecisions,
  TABLES.hitlistDomainDecisions,
  TABLES.hitlistBackends,
  TABLES.hitlistParties,
  TABLES.hitlistDatasets,
  TABLES.hitlistBuilds,
] as const;

/** IPv4 as IPv4-mapped IPv6, like every 16-byte address in Haystack. */
const v6 = (a: string) => (isIP(a) === 4 ? `::ffff:${a}` : a);
/** DateTime64 text without the zone suffix ClickHouse's default parser rejects. */
const ts = (iso: string) => iso.replace('T', ' ').replace('Z', '');

export class HitlistHistory {
  private constructor(
    readonly ch: ClickHouseStore,
    private readonly owned: boolean,
  ) {}

  static async open(opts: ClickHouseOptions): Promise<HitlistHistory> {
    const ch = await openClickHouse(opts);
    try {
      return await HitlistHistory.attach(ch, true);
    } catch (e) {
      await ch.close();
      throw e;
    }
  }

  /**
   * On a store another component opened (the running process's console records builds made
   * while it holds the embedded data directory); closing the history leaves that store open
   * unless `owned`.
   */
  static async attach(ch: ClickHouseStore, owned = false): Promise<HitlistHistory> {
    await ensureSchema(ch, { hitlistHistory: true });
    return new HitlistHistory(ch, owned);
  }

  /** Replace the day's history with this build. */
  async record(r: RecordableBuild): Promise<{ entries: number; classes: number; domains: number }> {
    const db = this.ch.database;
    const day = r.hitlist.day;
    const part = Number(day.replaceAll('-', ''));
    const builtAt = ts(r.hitlist.builtAt);
    const h = r.hitlist;
    // Every row is made before the day's history is dropped: a build that cannot be turned into
    // rows fails here and leaves the recorded day as it was.
    const entryRows: Record<string, unknown>[] = [];
    for (const e of h.entries) {
      for (const d of e.domains) {
        const dom = h.domains[d]!;
        for (const c of dom.classes) {
          const cl = h.classes[c]!;
          entryRows.push({
            day,
            address: v6(e.address),
            port: e.port,
            transport: e.transport,
            domain: dom.name,
            class_id: cl.id,
            level: cl.level,
            built_at: builtAt,
          });
        }
      }
    }
    const classRows = r.classification.classes.map((c) => ({
      day,
      class_id: c.class,
      kind: c.kind,
      status: c.status,
      level: c.level ?? '',
      detected_as: c.detectedAs ?? '',
      evidence: c.evidence,
      primary_domains: c.primaryDomains,
      dedicated_primary: c.dedicatedPrimary,
      addresses: c.addresses,
      reason: c.reason,
      built_at: builtAt,
    }));
    const domainRows = r.classification.domains.map((d) => ({
      day,
      domain: d.domain,
      role: d.role,
      status: d.status,
      via: d.via ?? '',
      used_by: d.usedBy,
      evidence_for: d.evidenceFor,
      addresses: d.addresses,
      reason: d.reason,
      built_at: builtAt,
    }));
    const buildRow = {
      day,
      built_at: builtAt,
      rules_digest: h.rulesDigest,
      window_days: h.window.days,
      entries: h.entries.length,
      addresses: r.report.addresses,
      report: JSON.stringify(r.report),
    };
    const b = r.backends;
    const backendRows = (b?.backends ?? []).map((x) => ({
      day,
      address: v6(x.address),
      asn: x.asn ?? 0,
      as_org: x.asOrg ?? '',
      country: x.country ?? '',
      continent: x.continent ?? '',
      provider: x.provider ?? '',
      built_at: builtAt,
    }));
    const partyRows = (b?.parties ?? []).map((x) => ({ day, domain: x.domain, class_id: x.classId, party: x.party, built_at: builtAt }));
    const datasetRows = (b?.datasets ?? []).map((x) => ({
      day,
      kind: x.kind,
      name: x.name,
      data_date: x.date,
      licence: x.licence,
      attribution: x.attribution,
      age_days: x.ageDays,
      stale: x.stale ? 1 : 0,
      built_at: builtAt,
    }));
    for (const t of HISTORY_TABLES) await this.ch.command(dropPartitionSql(db, t, this.ch.cluster), { p: part });
    const entries = await this.ch.insert(TABLES.hitlistEntries, entryRows);
    const classes = await this.ch.insert(TABLES.hitlistClassDecisions, classRows);
    const domains = await this.ch.insert(TABLES.hitlistDomainDecisions, domainRows);
    await this.ch.insert(TABLES.hitlistBackends, backendRows);
    await this.ch.insert(TABLES.hitlistParties, partyRows);
    await this.ch.insert(TABLES.hitlistDatasets, datasetRows);
    await this.ch.insert(TABLES.hitlistBuilds, [buildRow]);
    return { entries, classes, domains };
  }

  async days(): Promise<string[]> {
    const rows = await this.ch.query<{ day: string }>(`SELECT DISTINCT toString(day) AS day FROM ${this.ch.database}.${TABLES.hitlistBuilds} ORDER BY day`);
    return rows.map((r) => r.day);
  }

  async entries(day: string): Promise<{ address: string; port: number; transport: string; domain: string; class_id: string; level: string }[]> {
    return this.ch.query(
      `SELECT IPv6NumToString(address) AS address, port, transport, domain, class_id, level
       FROM ${this.ch.database}.${TABLES.hitlistEntries} WHERE day = {day:Date} ORDER BY address, port, transport, domain, class_id`,
      { day },
    );
  }

  async classDecisions(
    day: string,
  ): Promise<{ class_id: string; kind: string; status: string; level: string; detected_as: string; reason: string; addresses: number }[]> {
    return this.ch.query(
      `SELECT class_id, kind, status, level, detected_as, reason, addresses FROM ${this.ch.database}.${TABLES.hitlistClassDecisions} WHERE day = {day:Date} ORDER BY class_id`,
      { day },
    );
  }

  async domainDecisions(day: string): Promise<{ domain: string; status: string; via: string; reason: string; evidence_for: string[] }[]> {
    return this.ch.query(
      `SELECT domain, status, via, reason, evidence_for FROM ${this.ch.database}.${TABLES.hitlistDomainDecisions} WHERE day = {day:Date} ORDER BY domain`,
      { day },
    );
  }

  close(): Promise<void> {
    return this.owned ? this.ch.close() : Promise.resolve();
  }
}
