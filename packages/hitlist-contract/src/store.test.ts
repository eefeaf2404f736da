import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedis } from '@haystack/testkit';
import { parseAddress } from '@haystack/common';
import { decodeHitlist, encodeHitlist, HitlistFormatError, loadHitlist, PROTOCOL, type Hitlist } from './format.js';
import { ActiveHitlist, MemoryHitlistStore, RedisHitlistStore, type ActivePointer, type HitlistStore } from './store.js';

function sample(day: string, extra = 0): Hitlist {
  const entries: Hitlist['entries'] = [
    { address: '192.0.2.1', port: 443, transport: 'tcp', domains: [0] },
    { address: '192.0.2.1', port: 443, transport: 'udp', domains: [1] },
    { address: '2001:db8::1', port: 8883, transport: 'tcp', domains: [0, 1] },
  ];
  for (let i = 0; i < extra; i++) entries.push({ address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 443, transport: 'tcp', domains: [1] });
  return {
    format: 1,
    day,
    window: { from: day, to: day, days: 1 },
    builtAt: `${day}T01:00:00.000Z`,
    rulesDigest: 'd',
    classes: [
      { id: 'acme', level: 'manufacturer', name: 'Acme' },
      { id: 'acme-cam', level: 'product', name: 'Acme cam' },
    ],
    domains: [
      { name: 'cam.acme.com', role: 'primary', classes: [0, 1] },
      { name: 'api.acme.com', role: 'primary', classes: [0] },
    ],
    rules: [
      { class: 0, evidence: [0, 1], threshold: 1 },
      { class: 1, evidence: [0], threshold: 1 },
    ],
    entries,
  };
}

test('hitlist binary round trip and allocation-free lookup on 16-byte addresses', () => {
  const h = sample('2024-05-10', 50_000);
  const blob = encodeHitlist(h);
  const hl = decodeHitlist(blob, 7);
  assert.equal(hl.size, h.entries.length);
  assert.equal(hl.version, 7);
  assert.deepEqual(hl.toHitlist(), h);
  // IPv4 is matched as IPv4-mapped, exactly as flow batches carry it.
  const v4 = parseAddress('::ffff:192.0.2.1');
  const i = hl.lookup(v4, 0, 443, PROTOCOL.tcp);
  assert.deepEqual(
    [...hl.entryDomains(i)].map((d) => hl.domainName(d)),
    ['cam.acme.com'],
  );
  assert.deepEqual(
    [...hl.domainClasses(0)].map((c) => hl.classId(c)),
    ['acme', 'acme-cam'],
  );
  assert.equal(hl.lookup(v4, 0, 443, 132), -1);
  assert.equal(hl.lookup(v4, 0, 444, PROTOCOL.tcp), -1);
  // At an offset inside a larger buffer (as in a batch).
  const buf = new Uint8Array(64);
  parseAddress('2001:db8::1', buf, 37);
  assert.ok(hl.lookup(buf, 37, 8883, PROTOCOL.tcp) >= 0);
  assert.deepEqual(hl.find('10.0.195.79', 443, 'tcp'), { domains: ['api.acme.com'], classes: ['acme'] });
  assert.equal(hl.find('10.0.195.80', 443, 'tcp'), null);

  assert.throws(() => decodeHitlist(Buffer.from('not gzip')), HitlistFormatError);
  assert.throws(() => decodeHitlist(encodeHitlist({ ...h, format: 2 })), /format 2 is not supported/);
});

async function exercise(store: HitlistStore, other: HitlistStore) {
  assert.equal(await store.active(), null);
  assert.equal(await store.load('2024-05-10'), null);
  const swaps: ActivePointer[] = [];
  const unsubscribe = await store.subscribe((p) => swaps.push(p));

  // The follower (a detector) starts before anything is published.
  const seen: string[] = [];
  const follower = await ActiveHitlist.follow(other, { onSwap: (h) => seen.push(`${h.day}#${h.version}`) });
  assert.equal(follower.current, null);

  const p1 = await store.publish(sample('2024-05-10'));
  const p2 = await store.publish(sample('2024-05-11', 3));
  assert.ok(p2.version > p1.version && p2.seq > p1.seq);
  assert.deepEqual(await store.activeDay(), p2);
  const act = await store.active();
  assert.equal(act!.day, '2024-05-11');
  assert.equal(act!.size, 6);
  assert.equal((await store.load('2024-05-10'))!.size, 3);

  // Backfill without switching.
  const p3 = await store.publish(sample('2024-05-01'), { activate: false });
  assert.deepEqual(await store.activeDay(), p2);
  assert.equal((await store.load('2024-05-01'))!.version, p3.version);

  // Roll back to a stored day: a new switch, the value's own version.
  const back = await store.activate('2024-05-10');
  assert.deepEqual(back, { day: '2024-05-10', version: p1.version, seq: p2.seq + 1 });
  assert.equal(await store.activate('1999-01-01'), null);

  await waitFor(() => swaps.length === 3 && seen.length >= 1);
  await follower.settled();
  assert.deepEqual(
    swaps.map((s) => s.day),
    ['2024-05-10', '2024-05-11', '2024-05-10'],
  );
  assert.equal(follower.current!.day, '2024-05-10');
  assert.equal(follower.current!.version, p1.version);
  assert.ok(follower.current!.find('192.0.2.1', 443, 'tcp'));

  // A second follower started now gets the active day at once.
  const late = await ActiveHitlist.follow(other);
  assert.equal(late.current!.day, '2024-05-10');
  await late.close();
  await follower.close();
  await unsubscribe();
}

async function waitFor(cond: () => boolean): Promise<void> {
  // Pub/sub delivery is asynchronous: poll the condition, bounded by the test timeout.
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}

test('memory store: publish, load, active pointer, backfill, roll back, notifications, follower', async () => {
  const store = new MemoryHitlistStore();
  await exercise(store, store);
  await store.close();
});

test('redis store against a real redis-server: one value per day, atomic switch, pub/sub to another connection', async (t) => {
  const server = await startRedis();
  t.after(() => server.stop());
  const prefix = 'test:';
  const writer = new RedisHitlistStore({ url: server.url, keyPrefix: prefix });
  const reader = new RedisHitlistStore({ url: server.url, keyPrefix: prefix });
  t.after(() => writer.close());
  t.after(() => reader.close());
  await exercise(writer, reader);

  // What is stored: one hash per day (blob + version), the pointer, no per-entry keys.
  const r = new Redis(server.url);
  t.after(() => r.quit());
  const keys = (await r.keys('test:*')).sort();
  assert.deepEqual(keys, [
    'test:hitlist:active',
    'test:hitlist:day:2024-05-01',
    'test:hitlist:day:2024-05-10',
    'test:hitlist:day:2024-05-11',
    'test:hitlist:switch',
    'test:hitlist:version',
  ]);
  const blob = await r.hgetBuffer('test:hitlist:day:2024-05-11', 'blob');
  assert.equal(decodeHitlist(blob!).size, 6);
  assert.equal(await r.get('test:hitlist:active'), `2024-05-10 ${await r.hget('test:hitlist:day:2024-05-10', 'version')} 3`);

  // A large hitlist as one value.
  const big = sample('2024-06-01', 200_000);
  const p = await writer.publish(big);
  const loaded = await reader.load('2024-06-01');
  assert.equal(loaded!.size, big.entries.length);
  assert.equal(loaded!.version, p.version);
  assert.ok(loaded!.find('10.3.13.63', 443, 'tcp'));
});

test('redis store reports an unreachable server on use', async () => {
  const server = await startRedis();
  const url = server.url;
  await server.stop();
  const store = new RedisHitlistStore({ url });
  await assert.rejects(store.activeDay(), new RegExp(`hitlist store at redis://127\\.0\\.0\\.1:${server.port}: `));
  await store.close();
});

test('loadHitlist builds the lookup from a hitlist object', () => {
  const hl = loadHitlist(sample('2024-05-10'));
  assert.equal(hl.day, '2024-05-10');
  assert.deepEqual(hl.find('2001:db8:0::1', 8883, 'tcp')!.domains, ['cam.acme.com', 'api.acme.com']);
});
