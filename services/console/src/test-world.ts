import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClickHouseStore } from '@haystack/clickhouse';
import type { HaystackConfig } from '@haystack/common';
import { HitlistHistory, PdnsFileInput, buildHitlist, hitlistBuilds } from '@haystack/hitlist';
import { MemoryHitlistStore } from '@haystack/hitlist-contract';
import { loadRules } from '@haystack/rules';
import { cof } from '@haystack/hitlist/test-helpers';
import { MemoryBus } from '@haystack/transport';
import { encodeHealth } from '@haystack/flow-core';
import { createDetector, type Detector } from '@haystack/detector';
import {
  API,
  CAM1,
  DAY,
  DAY_START,
  H,
  TEST_RULES,
  TUYA6,
  captureLogger,
  chdbDataDir,
  makeBatch,
  openTestClickHouse,
  testConfig,
  toService,
  waitFor,
} from '@haystack/detector/test-helpers';
import { createConsole, firstToken, type ConsoleServer } from './index.js';

export const PREV = new Date(DAY_START - 24 * H).toISOString().slice(0, 10);
const WEEK_AGO = new Date(DAY_START - 7 * 24 * H).toISOString().slice(0, 10);

/**
 * A console over real storage: two days of hitlists built from passive DNS (recorded in the
 * hitlist history), a real detector fed flows of four lines, the console on 127.0.0.1:0 with
 * the lookup enabled. The detector keeps running, so a test can send more flows (`send`).
 */
export interface ConsoleWorld {
  ch: ClickHouseStore;
  config: HaystackConfig;
  srv: ConsoleServer;
  det: Detector;
  base: string;
  token: string;
  /** Publish flows to the running detector and wait until they are stored. */
  send(flows: Parameters<typeof makeBatch>[0]): Promise<void>;
  close(): Promise<void>;
}

export async function openConsoleWorld(dir: string, opts: { refreshSeconds?: number } = {}): Promise<ConsoleWorld> {
  const rulesDir = join(dir, 'rules');
  mkdirSync(rulesDir, { recursive: true });
  writeFileSync(join(rulesDir, 'rules.yaml'), TEST_RULES);
  const rules = loadRules(rulesDir);
  const pdns = join(dir, 'pdns.jsonl');
  writeFileSync(
    pdns,
    [cof('cam1.acme.com', 'A', CAM1, WEEK_AGO, DAY), cof('api.acme.com', 'A', API, WEEK_AGO, DAY), cof('a.tuyaus.com', 'AAAA', TUYA6, WEEK_AGO, DAY)].join(
      '\n',
    ),
  );
  // Where the backends live: an operator's own dataset copies (the configured-path form): the acme
  // addresses in "Acme Cloud" (AS64500, Germany, provider acmecloud), the Tuya one in AS64501 in the US.
  const ds = join(dir, 'datasets');
  for (const d of ['asn', 'country', 'providers/acmecloud']) mkdirSync(join(ds, d), { recursive: true });
  writeFileSync(join(ds, 'asn', 'asn-ipv4.csv'), '198.51.100.0,198.51.100.127,64500,Acme Cloud GmbH\n');
  writeFileSync(join(ds, 'asn', 'asn-ipv6.csv'), '2001:db8:ffff::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,64501,"Tuya Cloud, Inc."\n');
  writeFileSync(join(ds, 'asn', 'SNAPSHOT'), `${DAY}\n`);
  writeFileSync(join(ds, 'country', 'country-ipv4.csv'), '198.51.100.0,198.51.100.127,DE\n');
  writeFileSync(join(ds, 'country', 'country-ipv6.csv'), '2001:db8:ffff::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,US\n');
  writeFileSync(join(ds, 'providers', 'acmecloud', 'ipv4.txt'), '198.51.100.0/25\n');
  const backends = { asn: join(ds, 'asn'), country: join(ds, 'country'), providers: join(ds, 'providers'), maxAgeDays: 90 };
  const ch = await openTestClickHouse('console');
  const history = await HitlistHistory.open({ dataDir: chdbDataDir(), database: ch.database });
  const store = new MemoryHitlistStore();
  for (const d of [PREV, DAY]) {
    const built = await buildHitlist({ day: d, rules, pdns: [new PdnsFileInput(pdns)], tmpDir: dir, backends });
    await history.record(built);
    await store.publish(built.hitlist);
  }
  await history.close();
  const config = testConfig(
    { rulesDir, rawLineIds: true },
    {
      stateDir: join(dir, 'state'),
      console: { listen: '127.0.0.1:0', lookup: { enabled: true }, refreshSeconds: opts.refreshSeconds ?? 30 },
      backends: { ...backends, enabled: true, homeCountry: 'DE' },
    },
  );
  config.clickhouse.database = ch.database;
  const bus = new MemoryBus({ partitions: 1 });
  const det = createDetector({ config, log: captureLogger().log, source: bus.createSource(), hitlists: store, storage: ch });
  await det.start();
  const send = async (flows: Parameters<typeof makeBatch>[0]) => {
    const want = bus.stats().delivered + 1;
    await bus.sink.publish(0, makeBatch(flows));
    await waitFor(() => bus.stats().delivered >= want, 'delivered');
    await det.flush();
  };
  const t = DAY_START + 10 * H;
  await send([toService('100.64.0.1', CAM1, t - 24 * H)]);
  await send([
    toService('100.64.0.1', CAM1, t),
    toService('100.64.0.1', CAM1, t + 20 * 60_000),
    toService('100.64.0.3', API, t + 2 * H, { dstPort: 8883 }),
    toService('2001:db8:5:500::1', TUYA6, t + 3 * H),
    toService('100.64.0.5', '203.0.113.1', t),
  ]);
  // What ingest's health reporter publishes beside the flows: the NetFlow v9 exporter of the flows above with a
  // sequence gap (its snapshot misses the last interval: 4 of the 5 records the detector stored), and an sFlow agent
  // whose samples never reached the detector.
  const health = (exporter: string, version: number, records: number, gaps: number, lost: number, rate: number) => ({
    exporter,
    version,
    domain: version === 9 ? 0 : 1,
    packets: Math.ceil(records / 20),
    records,
    sequenceGaps: gaps,
    lost,
    malformed: 0,
    missingTemplateSets: 0,
    heldDroppedSets: 0,
    unknownRateRecords: 0,
    samplesLost: version === 133 ? lost : 0,
    sampleDrops: 0,
    samplingRate: rate,
  });
  {
    const want = bus.stats().delivered + 1;
    await bus.sink.publish(
      0,
      encodeHealth({
        id: 'test-world:0',
        collector: 'test-world',
        at: t + 30 * 60_000,
        intervalMs: 60_000,
        domains: [health('192.0.2.1', 9, 4, 1, 30, 1000), health('192.0.2.9', 133, 9_870, 2, 12, 2048)],
      }),
    );
    await waitFor(() => bus.stats().delivered >= want, 'health delivered');
    await det.flush();
  }
  const srv = await createConsole({
    config,
    log: captureLogger().log,
    store: ch,
    now: () => new Date(DAY_START + 23 * H),
    hitlistBuilds: hitlistBuilds(config),
  });
  const base = await srv.start();
  const token = firstToken(join(dir, 'state', 'console', 'tokens'))!;
  return {
    ch,
    config,
    srv,
    det,
    base,
    token,
    send,
    async close() {
      await srv.stop();
      await det.stop();
      await store.close();
      await ch.close();
    },
  };
}
