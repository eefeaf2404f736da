import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeHealth } from '@haystack/flow-core';
import { HitlistHistory, PdnsFileInput, buildHitlist } from '@haystack/hitlist';
import { MemoryHitlistStore } from '@haystack/hitlist-contract';
import { loadRules } from '@haystack/rules';
import { cof } from '@haystack/hitlist/test-helpers';
import { MemoryBus } from '@haystack/transport';
import { createDetector } from '@haystack/detector';
import { queryReportData } from './query.js';
import {
  API,
  CAM1,
  CAM2,
  DAY,
  DAY_START,
  H,
  TEST_RULES,
  TUYA6,
  captureLogger,
  chdbDataDir,
  cleanupClickHouseDir,
  makeBatch,
  openTestClickHouse,
  tempDir,
  testConfig,
  testHitlist,
  toService,
  waitFor,
} from '@haystack/detector/test-helpers';
import { TABLES, VIEWS } from '@haystack/store';

const PREVIOUS_DAY = new Date(Date.parse(`${DAY}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);

after(cleanupClickHouseDir);
const tmp = tempDir('detector-report-');
after(tmp.cleanup);

const PREV = new Date(DAY_START - 24 * H).toISOString().slice(0, 10);
const WEEK_AGO = new Date(DAY_START - 7 * 24 * H).toISOString().slice(0, 10);

test('queryReportData on chdb: lines, classes with parents and hours, previous day, hitlist history with churn, quality with ingest health', async () => {
  // The dictionary, plus a product with no domain at all (not detectable).
  const rulesDir = join(tmp.dir, 'rules');
  mkdirSync(rulesDir, { recursive: true });
  writeFileSync(
    join(rulesDir, 'rules.yaml'),
    TEST_RULES.replace('products:\n', 'products:\n  - { id: acme-bulb, name: Acme bulb, manufacturer: acme, source: [test] }\n'),
  );
  const rules = loadRules(rulesDir);
  // Passive DNS: cam2 appears only on the report day (churn: one entry added).
  const pdns = join(tmp.dir, 'pdns.jsonl');
  writeFileSync(
    pdns,
    [
      cof('cam1.acme.com', 'A', CAM1, WEEK_AGO, DAY),
      cof('cam2.acme.com', 'A', CAM2, DAY, DAY),
      cof('api.acme.com', 'A', API, WEEK_AGO, DAY),
      cof('a.tuyaus.com', 'AAAA', TUYA6, WEEK_AGO, DAY),
    ].join('\n'),
  );
  const ch = await openTestClickHouse('report');
  const history = await HitlistHistory.open({ dataDir: chdbDataDir(), database: ch.database });
  const store = new MemoryHitlistStore();
  for (const d of [PREV, DAY]) {
    const built = await buildHitlist({ day: d, rules, pdns: [new PdnsFileInput(pdns)], tmpDir: tmp.dir });
    await history.record(built);
    await store.publish(built.hitlist);
  }
  await history.close();

  const bus = new MemoryBus({ partitions: 2 });
  const det = createDetector({
    config: testConfig({ rulesDir, rawLineIds: true }),
    log: captureLogger().log,
    source: bus.createSource({ concurrency: 2 }),
    hitlists: store,
    storage: ch,
  });
  await det.start();
  const t = DAY_START + 10 * H;
  const batches = [
    makeBatch([toService('100.64.0.1', CAM1, t - 24 * H), toService('100.64.0.9', '203.0.113.1', t - 24 * H)]),
    makeBatch([
      toService('100.64.0.1', CAM1, t),
      toService('100.64.0.2', CAM2, t + 60_000),
      toService('100.64.0.3', API, t + 2 * H, { dstPort: 8883 }),
      toService('2001:db8:5:500::1', TUYA6, t + 3 * H),
      toService('100.64.0.5', '203.0.113.1', t),
      toService('100.64.0.6', '203.0.113.1', t, { rate: 0 }),
    ]),
    encodeHealth({
      id: 'collector-a:7',
      collector: 'collector-a',
      at: t,
      intervalMs: 60_000,
      domains: [
        {
          exporter: '192.0.2.1',
          version: 9,
          domain: 0,
          packets: 100,
          records: 8,
          sequenceGaps: 3,
          lost: 10,
          malformed: 1,
          missingTemplateSets: 2,
          heldDroppedSets: 0,
          unknownRateRecords: 1,
          samplingRate: 1000,
        },
        // An sFlow agent's own loss counters (a snapshot from before sFlow, above, has none: read as 0).
        {
          exporter: '192.0.2.9',
          version: 133,
          domain: 0,
          packets: 50,
          records: 0,
          sequenceGaps: 1,
          lost: 2,
          malformed: 0,
          missingTemplateSets: 0,
          heldDroppedSets: 0,
          unknownRateRecords: 0,
          samplingRate: 10000,
          samplesLost: 4,
          sampleDrops: 9,
        },
        // Taken on DAY, about flows of the day before (an export delayed past midnight): that day's.
        {
          exporter: '192.0.2.1',
          version: 9,
          domain: 0,
          day: PREVIOUS_DAY,
          packets: 5,
          records: 2,
          sequenceGaps: 1,
          lost: 6,
          malformed: 0,
          missingTemplateSets: 0,
          heldDroppedSets: 0,
          unknownRateRecords: 0,
          samplingRate: 1000,
        },
      ],
    }),
    Buffer.from('definitely not a flow batch'),
  ];
  for (const [i, b] of batches.entries()) await bus.sink.publish(i % 2, b);
  await waitFor(() => bus.stats().delivered === batches.length, 'all delivered');
  await det.stop();
  await store.close();
  assert.equal(det.stats().healthSnapshots, 1);

  const r = await queryReportData(ch, DAY, { now: new Date('2030-01-01T00:00:00Z') });
  assert.equal(r.day, DAY);
  assert.equal(r.generatedAt, '2030-01-01T00:00:00.000Z');
  assert.equal(r.previousDay, PREV);
  assert.deepEqual(r.lines, { active: 6, activePrevious: 2, withAnyDetection: 4 });
  const cls = Object.fromEntries(r.classes.map((c) => [c.classId, c]));
  assert.deepEqual(Object.keys(cls).sort(), ['acme', 'acme-cam', 'tuya']);
  assert.deepEqual(
    r.classes.map((c) => c.level),
    ['platform', 'manufacturer', 'product'],
  );
  assert.equal(cls['acme-cam']!.name, 'Acme cam');
  assert.deepEqual(cls['acme-cam']!.parents, ['acme', 'tuya']);
  assert.equal(cls['acme-cam']!.detectedLines, 2);
  assert.equal(cls['acme-cam']!.detectedLinesPrevious, 1);
  assert.equal(cls['acme-cam']!.shareOfActive, 2 / 6);
  assert.equal(cls['acme-cam']!.hourly[10], 2);
  assert.equal(
    cls['acme-cam']!.hourly.reduce((a, b) => a + b, 0),
    2,
  );
  assert.equal(cls['acme']!.detectedLines, 3, 'two implied by the cam, one by its own rule');
  assert.equal(cls['acme']!.hourly[12], 1);
  assert.equal(cls['tuya']!.detectedLines, 3);
  assert.equal(cls['tuya']!.hourly[13], 1);

  assert.equal(r.hitlist.day, DAY);
  assert.equal(r.hitlist.detectableClasses, 3);
  assert.deepEqual(r.hitlist.byLevel, { platform: 1, manufacturer: 1, product: 1 });
  assert.deepEqual(
    r.hitlist.notDetectable.map((n) => [n.classId, n.name]),
    [['acme-bulb', 'Acme bulb']],
  );
  assert.match(r.hitlist.notDetectable[0]!.reason, /no primary domain/);
  assert.equal(r.hitlist.dedicatedAddresses, 4);
  assert.equal(r.hitlist.entries, 4);
  assert.deepEqual(r.hitlist.churn, { added: 1, removed: 0 });

  assert.deepEqual(r.quality, {
    exporters: [
      {
        exporter: '192.0.2.1',
        version: 9,
        observationDomain: 0,
        records: 6,
        samplingRates: [0, 1000],
        sequenceGaps: 3,
        lost: 10,
        lostUnit: 'packets',
        malformed: 1,
        missingTemplateSets: 2,
        samplesLost: 0,
        sampleDrops: 0,
      },
      {
        exporter: '192.0.2.9',
        version: 133,
        observationDomain: 0,
        records: 0,
        samplingRates: [10000], // the rate its health snapshot reported (no flow of it reached the detector)
        sequenceGaps: 1,
        lost: 2,
        lostUnit: 'datagrams',
        malformed: 0,
        missingTemplateSets: 0,
        samplesLost: 4,
        sampleDrops: 9,
      },
    ],
    flowsTotal: 6,
    flowsMatched: 4,
    undecodableBatches: 0,
    unknownSamplingFlows: 1,
    partialReplays: [],
  });
  // Health is the day's of the flows it describes, whenever it was taken.
  const previous = await queryReportData(ch, PREVIOUS_DAY);
  assert.deepEqual(
    previous.quality.exporters.filter((e) => e.exporter === '192.0.2.1').map((e) => [e.lost, e.lostUnit, e.sequenceGaps]),
    [[6, 'packets', 1]],
  );
  // An undecodable batch counts on the day it was received.
  const today = new Date().toISOString().slice(0, 10);
  assert.equal((await queryReportData(ch, today)).quality.undecodableBatches, 1);

  // A day without anything stored: zeros and nulls, no error.
  const empty = await queryReportData(ch, '2001-01-01');
  assert.deepEqual(empty.lines, { active: 0, activePrevious: null, withAnyDetection: 0 });
  assert.equal(empty.previousDay, null);
  assert.equal(empty.hitlist.day, null);
  assert.deepEqual(empty.quality.exporters, []);
  await ch.close();
});

test('queryReportData without hitlist history in the database falls back to what the detector recorded', async () => {
  const ch = await openTestClickHouse('nohistory');
  const rulesDir = join(tmp.dir, 'rules2');
  mkdirSync(rulesDir, { recursive: true });
  writeFileSync(join(rulesDir, 'rules.yaml'), TEST_RULES);
  const store = new MemoryHitlistStore();
  await store.publish(testHitlist());
  const bus = new MemoryBus();
  const det = createDetector({
    config: testConfig({ rulesDir, rawLineIds: true }),
    log: captureLogger().log,
    source: bus.createSource(),
    hitlists: store,
    storage: ch,
  });
  await det.start();
  await bus.sink.publish(0, makeBatch([toService('100.64.0.1', CAM1, DAY_START + H)]));
  await waitFor(() => bus.stats().delivered === 1, 'delivered');
  await det.stop();
  await store.close();
  const r = await queryReportData(ch, DAY);
  assert.equal(r.hitlist.day, DAY);
  assert.equal(r.hitlist.detectableClasses, 3);
  assert.equal(r.hitlist.entries, 5);
  assert.equal(r.hitlist.dedicatedAddresses, 5);
  assert.deepEqual(
    r.hitlist.notDetectable.map((n) => n.classId),
    ['acme-plug'],
  );
  assert.equal(r.hitlist.churn, null);
  assert.equal(r.previousDay, null);
  assert.equal(r.lines.activePrevious, null);
  assert.equal(r.classes.find((c) => c.classId === 'acme-cam')!.detectedLinesPrevious, null);
  await ch.close();
});

test('the report equals its base tables after a crash between a base insert and its materialized view', async () => {
  const ch = await openTestClickHouse('crash');
  const rulesDir = join(tmp.dir, 'rules3');
  mkdirSync(rulesDir, { recursive: true });
  writeFileSync(join(rulesDir, 'rules.yaml'), TEST_RULES);
  const store = new MemoryHitlistStore();
  await store.publish(testHitlist());
  const run = async (lines: string[]) => {
    const bus = new MemoryBus();
    const det = createDetector({
      config: testConfig({ rulesDir, rawLineIds: true }),
      log: captureLogger().log,
      source: bus.createSource(),
      hitlists: store,
      storage: ch,
    });
    await det.start();
    await bus.sink.publish(0, makeBatch(lines.map((l) => toService(l, CAM1, DAY_START + H))));
    await waitFor(() => bus.stats().delivered === 1, 'delivered');
    await det.stop();
  };
  await run(['100.64.0.1']);
  // A detector killed after writing its base rows, before the views saw them: simulated by
  // detaching the views while the second detector writes.
  const db = ch.database;
  for (const v of [VIEWS.detectedLines, VIEWS.activeLines]) await ch.command(`DETACH TABLE ${db}.${v}`);
  await run(['100.64.0.2', '100.64.0.3']);
  for (const v of [VIEWS.detectedLines, VIEWS.activeLines]) await ch.command(`ATTACH TABLE ${db}.${v}`);
  await store.close();

  const r = await queryReportData(ch, DAY);
  const [base] = await ch.query<{ lines: string; cam: string }>(
    `SELECT (SELECT uniqExact(line) FROM ${db}.${TABLES.lineDays} WHERE day = {d:Date}) AS lines,
            (SELECT uniqExact(line) FROM ${db}.${TABLES.detections} WHERE day = {d:Date} AND window = 'day' AND class_id = 'acme-cam') AS cam`,
    { d: DAY },
  );
  assert.equal(Number(base!.lines), 3);
  assert.equal(r.lines.active, 3);
  assert.equal(r.classes.find((c) => c.classId === 'acme-cam')!.detectedLines, Number(base!.cam));
  assert.equal(r.classes.find((c) => c.classId === 'acme-cam')!.detectedLines, 3);
  await ch.close();
});
