import { openClickHouse, type ClickHouseOptions } from '@haystack/clickhouse';
import { PdnsStore } from '@haystack/pdns';
import { canonicalAddress, type PdnsInput, type PdnsRecord } from './pdns.js';
import { normalizeName } from '@haystack/rules';
import type { InputReport } from './report.js';
import { addDays } from '../days.js';

/** The longest look-back window the policy allows (rules/policy.yaml lookbackDays ≤ 31). */
const MAX_LOOKBACK_DAYS = 31;

/**
 * Passive DNS collected from the operator's own resolvers (`haystack pdns`, dnstap) and kept in
 * ClickHouse: the days up to the build day, merged over resolvers and days. The build applies
 * its window and exclusivity rules to these records exactly as to COF/DNSDB files.
 */
export class PdnsStoreInput implements PdnsInput {
  constructor(
    private readonly ch: ClickHouseOptions,
    private readonly day: string,
    private readonly retentionDays = 90,
  ) {}

  get name(): string {
    // Logged and written into the build report: never the URL's user info.
    const url = this.ch.url ? this.ch.url.replace(/\/\/[^/@]*@/, '//') : null;
    return `passive DNS store (${url ? `ClickHouse ${url}` : `embedded ClickHouse ${this.ch.dataDir}`}, database ${this.ch.database})`;
  }

  async read(onRecord: (r: PdnsRecord) => void, report: InputReport): Promise<void> {
    const ch = await openClickHouse(this.ch);
    try {
      const store = await PdnsStore.open(ch, this.retentionDays);
      let row = 0;
      const n = await store.read(addDays(this.day, -(MAX_LOOKBACK_DAYS - 1)), this.day, (r) => {
        row++;
        // The collector stores names as resolvers answered them: anything the rules cannot use is skipped as from a file.
        const rrname = normalizeName(r.name);
        const rdata = r.type === 'CNAME' ? normalizeName(r.data) : canonicalAddress(r.data);
        if (!rrname || !rdata) return report.skip(row, 'name not usable as a domain', `${r.name} ${r.type} ${r.data}`);
        report.records++;
        onRecord({ rrname, rrtype: r.type, rdata, timeFirst: Math.floor(r.first / 1000), timeLast: Math.floor(r.last / 1000), count: r.count });
      });
      report.lines = n;
    } finally {
      await ch.close();
    }
  }
}
