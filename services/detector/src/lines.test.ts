import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { parseAddress, seededRandom } from '@haystack/common';
import { KeySet, LineMask, V4Set, word } from './line-sets.js';
import { LineIds, embeddedLineKey } from '@haystack/store';
import { tempDir } from './test-helpers.js';

test('KeySet and V4Set agree with a Set over many random keys (growth, collisions, zero)', () => {
  const rnd = seededRandom(11);
  const ks = new KeySet(4);
  const vs = new V4Set(4);
  const ref4 = new Set<string>();
  const refV = new Set<number>();
  for (let i = 0; i < 200_000; i++) {
    // Small ranges force repeats; zero and 0xffffffff included.
    const a = Math.floor(rnd() * 3);
    const d = i % 1000 === 0 ? 0 : i % 1001 === 0 ? 0xffffffff : Math.floor(rnd() * 60_000);
    const k = `${a}:${d}`;
    assert.equal(ks.add(a, 0, 0xffff, d), !ref4.has(k));
    ref4.add(k);
    assert.equal(vs.add(d), !refV.has(d));
    refV.add(d);
  }
  assert.equal(ks.size, ref4.size);
  assert.equal(vs.size, refV.size);
  assert.ok(ks.has(1, 0, 0xffff, [...refV][5]!) === ref4.has(`1:${[...refV][5]}`));
});

test('line sets keep a value per line across growth (the line id cache)', () => {
  const ks = new KeySet(4);
  const vs = new V4Set(4);
  for (let i = 0; i < 50_000; i++) {
    if (i % 3 === 0) {
      ks.add(i, 1, 2, 3);
      vs.add(i);
    }
    ks.set(i, 1, 2, 3, `k${i}`);
    vs.set(i, `v${i}`);
  }
  assert.equal(ks.size, 50_000);
  assert.equal(vs.size, 50_000);
  for (let i = 0; i < 50_000; i += 7) {
    assert.equal(ks.get(i, 1, 2, 3), `k${i}`);
    assert.equal(vs.get(i), `v${i}`);
  }
  assert.equal(vs.get(0), 'v0', 'the zero address has its own slot');
  assert.equal(vs.get(123_456), undefined);
  assert.equal(ks.get(1, 1, 2, 4), undefined);
});

test('LineMask cuts IPv6 to the prefix; IPv4 lines are whole addresses', () => {
  const m = new LineMask(56);
  assert.deepEqual([m.m0, m.m1, m.m2, m.m3], [0xffffffff, 0xffffff00, 0, 0]);
  const m60 = new LineMask(60);
  assert.equal(m60.m1, 0xfffffff0);
  assert.deepEqual([new LineMask(128).m3, new LineMask(32).m1], [0xffffffff, 0]);
  assert.throws(() => new LineMask(0), /1\.\.128/);
});

test('LineIds: raw text, keyed pseudonyms (stable, key-dependent, daily rotation), the key never shown', () => {
  const v4 = parseAddress('203.0.113.7');
  // id() takes masked words (the callers mask): a /56 prefix.
  const v6 = parseAddress('2001:db8:1:100::');
  const w = (b: Uint8Array) => [word(b, 0), word(b, 4), word(b, 8), word(b, 12)] as const;
  const raw = new LineIds({ key: null, rotation: 'none', raw: true, ipv6PrefixLength: 56 });
  assert.equal(raw.id(...w(v4), true, 20_000), '203.0.113.7');
  assert.equal(raw.id(...w(v6), false, 20_000), '2001:db8:1:100::/56');
  const key = 'secret-line-key-0123456789';
  const a = new LineIds({ key, rotation: 'none', raw: false, ipv6PrefixLength: 56 });
  const id = a.id(...w(v4), true, 20_000);
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(new LineIds({ key, rotation: 'none', raw: false, ipv6PrefixLength: 56 }).id(...w(v4), true, 20_001), id, 'same key: same id, any day');
  assert.notEqual(new LineIds({ key: `${key}x`, rotation: 'none', raw: false, ipv6PrefixLength: 56 }).id(...w(v4), true, 20_000), id);
  const r = new LineIds({ key, rotation: 'daily', raw: false, ipv6PrefixLength: 56 });
  const d1 = r.id(...w(v4), true, 20_000);
  const d2 = r.id(...w(v4), true, 20_001);
  assert.notEqual(d1, d2);
  assert.notEqual(d1, id);
  assert.equal(r.id(...w(v4), true, 20_000), d1);
  assert.ok(!inspect(a).includes(key) && !JSON.stringify(a).includes(key) && !JSON.stringify({ a }).includes(key));
  assert.throws(() => new LineIds({ key: 'short', rotation: 'none', raw: false, ipv6PrefixLength: 56 }), /at least 16 bytes/);
});

test('embeddedLineKey creates one key (0600) and reads the same one back', () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = join(dir, 'detector', 'line-key');
    const first = embeddedLineKey(p);
    assert.equal(first.created, true);
    assert.match(first.key, /^[0-9a-f]{64}$/);
    assert.equal(statSync(p).mode & 0o777, 0o600);
    const again = embeddedLineKey(p);
    assert.deepEqual(again, { key: first.key, created: false });
  } finally {
    cleanup();
  }
});
