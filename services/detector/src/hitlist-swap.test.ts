import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Redis } from 'ioredis';
import { HitlistFormatError, MemoryHitlistStore, RedisHitlistStore, encodeHitlist, loadHitlist } from '@haystack/hitlist-contract';
import { startRedis } from '@haystack/testkit';
import { MemoryBus } from '@haystack/transport';
import { createDetector } from './detector.js';
import { HitlistSet, validateHitlist } from './hitlists.js';
import {
  CAM1,
  CAM2,
  DAY,
  DAY_START,
  H,
  captureLogger,
  cleanupClickHouseDir,
  makeBatch,
  openTestClickHouse,
  storedCounts,
  testConfig,
  testHitlist,
  toService,
  waitFor,
} from './test-helpers.js';

after(cleanupClickHouseDir);

const dayText = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const D1 = dayText(DAY_START + 24 * H);
const D2 = dayText(DAY_START + 48 * H);
const D3 = dayText(DAY_START + 72 * H);
const NEW_API = '198.51.100.77';

test('Redis hitlist while consuming: a new day is used for its flows, a republished day swaps in, Redis away keeps the last good hitlists, unknown formats are refused', async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const pub = new RedisHitlistStore({ url: redis.url, keyPrefix: 'hs:' });
  t.after(() => pub.close());
  await pub.publish(testHitlist(DAY));

  const ch = await openTestClickHouse('swap');
  t.after(() => ch.close());
  const cap = captureLogger();
  const store = new RedisHitlistStore({ url: redis.url, keyPrefix: 'hs:' });
  const bus = new MemoryBus({ partitions: 1 });
  const det = createDetector({
    config: testConfig({ rawLineIds: true, windows: ['day'] }),
    log: cap.log,
    source: bus.createSource({ retry: { initialMs: 10, maxMs: 50 } }),
    hitlists: store,
    storage: ch,
    stopTimeoutMs: 1_000,
  });
  await det.start();
  t.after(async () => {
    await det.stop();
    await store.close();
  });
  let sent = 0;
  const send = async (flows: Parameters<typeof makeBatch>[0]) => {
    await bus.sink.publish(0, makeBatch(flows));
    sent++;
    await waitFor(() => bus.position(0) === sent, `batch ${sent} handled`);
  };
  const dayDetections = async () =>
    (await storedCounts(ch)).detections
      .filter((d) => d.window === 'day' && d.via === d.class_id)
      .map((d) => `${d.window_start.slice(0, 10)} ${d.class_id} ${d.line}`);

  // Day D from the store at start.
  await send([toService('100.64.0.1', CAM1, DAY_START + H)]);
  assert.deepEqual(await dayDetections(), [`${DAY} acme-cam 100.64.0.1`]);

  // Day D+1 published (and activated) while consuming: CAM1 is gone from it, CAM2 stays.
  const h1 = testHitlist(D1);
  h1.entries = h1.entries.filter((e) => e.address !== CAM1);
  await pub.publish(h1);
  await waitFor(() => det.hitlistSet!.days().includes(D1), 'D+1 loaded on the notification');
  await send([
    toService('100.64.1.1', CAM1, DAY_START + 25 * H), // D+1: not in D+1's hitlist
    toService('100.64.1.2', CAM2, DAY_START + 25 * H), // D+1: matched
    toService('100.64.1.3', CAM1, DAY_START + 23 * H), // a late flow of D: D's hitlist still serves it
  ]);
  assert.deepEqual((await dayDetections()).sort(), [`${D1} acme-cam 100.64.1.2`, `${DAY} acme-cam 100.64.0.1`, `${DAY} acme-cam 100.64.1.3`].sort());

  // Day D republished with a new service address: swapped in atomically, used for new flows.
  const h0 = testHitlist(DAY);
  h0.entries.push({ address: NEW_API, port: 8883, transport: 'tcp', domains: [2] });
  await pub.publish(h0);
  await waitFor(() => det.stats().hitlistSwaps >= 1, 'D swapped');
  await send([toService('100.64.2.1', NEW_API, DAY_START + 2 * H, { dstPort: 8883 })]);
  assert.ok((await dayDetections()).includes(`${DAY} acme 100.64.2.1`));

  // An unknown hitlist format for D+3, written as a future publisher would: refused, never used.
  const raw = gunzipSync(encodeHitlist(testHitlist(D3)));
  raw.writeUInt16LE(2, 4);
  const r = new Redis(redis.url);
  await r.hset(`hs:hitlist:day:${D3}`, 'blob', gzipSync(raw), 'version', '99', 'builtAt', 'x');
  await r.quit();
  await send([toService('100.64.3.1', CAM1, DAY_START + 73 * H)]);
  assert.equal(det.stats().hitlistRefusals, 1);
  assert.match(cap.text(), /hitlist format 2 is not supported \(expected 1\)/);
  assert.ok(!(await dayDetections()).some((d) => d.startsWith(D3)));

  // Redis goes away: the hitlists in memory keep serving their days.
  await redis.stop();
  const before = det.stats().handlerFailures;
  await send([toService('100.64.4.1', CAM2, DAY_START + 3 * H), toService('100.64.4.2', CAM2, DAY_START + 26 * H)]);
  assert.equal(det.stats().handlerFailures, before, 'no failure for days already loaded');
  assert.ok((await dayDetections()).includes(`${DAY} acme-cam 100.64.4.1`));
  assert.ok((await dayDetections()).includes(`${D1} acme-cam 100.64.4.2`));

  // A day never loaded cannot be matched while Redis is away: the batch waits, uncommitted.
  await bus.sink.publish(0, makeBatch([toService('100.64.5.1', CAM1, DAY_START + 49 * H)]));
  await waitFor(() => det.stats().handlerFailures > before, 'the D+2 batch failing while Redis is away');
  assert.equal(bus.position(0), sent, 'not committed');
  assert.match(cap.text(), new RegExp(`hitlist of ${D2} cannot be loaded`));
  await det.stop();
  await store.close();
  assert.equal(bus.position(0), sent, 'still there for the next detector');
  assert.equal(bus.stats().queued, 1);
});

test('validateHitlist refuses a hitlist whose metadata names another format or broken references', () => {
  const h = loadHitlist(testHitlist());
  assert.doesNotThrow(() => validateHitlist(h));
  // The binary envelope says format 1 (else decoding refuses it already), the metadata says 2.
  const future = loadHitlist(testHitlist());
  (future.meta as { format: number }).format = 2;
  assert.throws(
    () => validateHitlist(future),
    (e: Error) => e instanceof HitlistFormatError && /format 2; this detector reads format 1/.test(e.message),
  );
  const broken = testHitlist();
  broken.rules = [{ class: 7, evidence: [0], threshold: 1 }];
  assert.throws(() => validateHitlist(loadHitlist(broken)), /rule for class index 7 out of range/);
});

test('HitlistSet holds several days, evicts the least recently used beyond maxDays, and keeps pinned days', async () => {
  const store = new MemoryHitlistStore();
  for (const d of [DAY, D1, D2, D3]) await store.publish(testHitlist(d), { activate: false });
  const set = await HitlistSet.open({ store, log: captureLogger().log, maxDays: 2, pollMs: 0 });
  const n = (ms: number) => Math.floor(ms / (24 * H));
  await set.ensure([n(DAY_START)]);
  set.pin([n(DAY_START)]);
  await set.ensure([n(DAY_START) + 1]);
  await set.ensure([n(DAY_START) + 2]);
  assert.ok(set.get(n(DAY_START)), 'pinned day kept');
  assert.equal(set.get(n(DAY_START) + 1), null, 'least recently used unpinned day evicted');
  set.unpin([n(DAY_START)]);
  assert.deepEqual(set.days().length, 2);
  await set.ensure([n(DAY_START) + 1]);
  assert.ok(set.get(n(DAY_START) + 1), 'loaded again on demand');
  await set.close();
  await store.close();
});
