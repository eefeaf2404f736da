import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddress, seededRandom } from '@haystack/common';
import { F, HEADER_SIZE, RECORD_SIZE, openBatch } from '@haystack/flow-core';
import { loadHitlist, type Hitlist } from '@haystack/hitlist-contract';
import { LineMask } from './line-sets.js';
import { Matcher, ScanResult, batchDays } from './matcher.js';
import { PartitionState } from './rules.js';
import { DAY_START, H, makeBatch, testHitlist, type FlowSpec } from './test-helpers.js';

/**
 * The scan with its bit filter must find exactly what a plain lookup of every record finds:
 * a randomized equivalence check over a hitlist of a few thousand entries (v4 and v6, tcp
 * and udp, several ports) and flows that hit, nearly hit (same address, other port or
 * protocol; same last word, other address) or miss, in every side configuration.
 */
test('the filtered scan matches exactly the plain hitlist lookups (randomized)', () => {
  const rnd = seededRandom(5);
  const base = testHitlist();
  const entries: Hitlist['entries'] = [];
  for (let i = 0; i < 3000; i++) {
    const v6 = i % 4 === 0;
    const address = v6 ? `2001:db8:${(i & 0xffff).toString(16)}::${(i % 7).toString(16)}` : `198.${18 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}`;
    entries.push({ address, port: [443, 8883, 123][i % 3]!, transport: i % 5 === 0 ? 'udp' : 'tcp', domains: [i % base.domains.length] });
  }
  const hl = loadHitlist({ ...base, entries });
  const day = Math.floor(DAY_START / 86_400_000);
  const matcher = new Matcher({ get: (d) => (d === day ? hl : null) }, new LineMask(56));
  const flows: FlowSpec[] = [];
  for (let i = 0; i < 20_000; i++) {
    const e = entries[Math.floor(rnd() * entries.length)]!;
    const kind = rnd();
    let service = e.address;
    let port = e.port;
    let proto = e.transport === 'tcp' ? 6 : 17;
    if (kind < 0.3) port = [443, 8883, 123, 80][Math.floor(rnd() * 4)]!;
    else if (kind < 0.45) proto = proto === 6 ? 17 : 6;
    else if (kind < 0.6)
      service = e.address.includes(':')
        ? `2001:db8:ffff::${Math.floor(rnd() * 7).toString(16)}`
        : `10.${Math.floor(rnd() * 3)}.${e.address.split('.').slice(2).join('.')}`;
    else if (kind < 0.8) service = `203.0.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`;
    const side = [0, 1, 2, 3][Math.floor(rnd() * 4)]!;
    const line = `100.64.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`;
    const start = DAY_START + Math.floor(rnd() * 24 * H);
    if (side === 2) flows.push({ start, src: service, dst: line, srcPort: port, dstPort: 50000, proto, side });
    else flows.push({ start, src: line, dst: service, srcPort: 50000, dstPort: port, proto, side });
  }
  const v = openBatch(makeBatch(flows));
  const res = matcher.scan(v, new PartitionState(0), new ScanResult());
  // Reference: the plain lookup of the non-subscriber end(s).
  const expected: string[] = [];
  let matched = 0;
  for (let i = 0; i < v.count; i++) {
    const o = HEADER_SIZE + i * RECORD_SIZE;
    const side = v.buf[o + F.side]!;
    const proto = v.buf[o + F.proto]!;
    let hit = false;
    if (side === 1 || side === 0) {
      const e = hl.lookup(v.buf, o + F.dst, v.dv.getUint16(o + F.dstPort, true), proto);
      if (e >= 0) {
        expected.push(`${o} ${o + F.src} ${e}`);
        hit = true;
      }
    }
    if (side === 2 || side === 0) {
      const e = hl.lookup(v.buf, o + F.src, v.dv.getUint16(o + F.srcPort, true), proto);
      if (e >= 0) {
        expected.push(`${o} ${o + F.dst} ${e}`);
        hit = true;
      }
    }
    if (hit) matched++;
  }
  const got: string[] = [];
  for (let i = 0; i < res.matchCount; i++) got.push(`${res.matches[i * 3]} ${res.matches[i * 3 + 1]} ${res.matches[i * 3 + 2]}`);
  assert.ok(expected.length > 1000, `enough matches to mean something (${expected.length})`);
  assert.deepEqual(got, expected);
  assert.equal(res.matched, matched);
  assert.equal(res.records, flows.length);
});

test('scan counts per exporter, version, domain and day; bad start times; days of a batch', () => {
  const day = Math.floor(DAY_START / 86_400_000);
  const hl = loadHitlist(testHitlist());
  const matcher = new Matcher({ get: (d) => (d === day ? hl : null) }, new LineMask(56));
  const flows: FlowSpec[] = [
    { start: DAY_START + H, src: '100.64.0.1', dst: '203.0.113.1', exporter: '192.0.2.1', rate: 100 },
    { start: DAY_START + H, src: '100.64.0.1', dst: '203.0.113.1', exporter: '192.0.2.1', rate: 0 },
    { start: DAY_START + H, src: '100.64.0.2', dst: '203.0.113.1', exporter: '192.0.2.2', version: 10, domain: 7 },
    { start: DAY_START + 25 * H, src: '100.64.0.1', dst: '203.0.113.1', exporter: '192.0.2.1' },
    { start: 0, src: '100.64.0.3', dst: '203.0.113.1', exporter: '192.0.2.1' },
    { start: NaN, src: '100.64.0.3', dst: '203.0.113.1', exporter: '192.0.2.1' },
  ];
  const v = openBatch(makeBatch(flows, DAY_START + 2 * H));
  assert.deepEqual(batchDays(v), [day, day + 1]);
  const res = matcher.scan(v, new PartitionState(0), new ScanResult());
  assert.equal(res.bad, 2);
  assert.equal(res.noHitlist, 1);
  assert.equal(res.unknownRate, 1);
  const slots = res.slots.slice(0, res.slotCount).map((q) => ({
    ex: parseAddress('192.0.2.1').every((b, i) => b === q.exporter[i]) ? 1 : 2,
    v: q.version,
    d: q.domain,
    day: q.day - day,
    records: q.records,
    bad: q.bad,
    rates: [...q.rates],
  }));
  assert.deepEqual(slots, [
    { ex: 1, v: 9, d: 0, day: 0, records: 4, bad: 2, rates: [100, 0] },
    { ex: 2, v: 10, d: 7, day: 0, records: 1, bad: 0, rates: [1000] },
    { ex: 1, v: 9, d: 0, day: 1, records: 1, bad: 0, rates: [1000] },
  ]);
  // New lines: 100.64.0.1 on two days, 100.64.0.2 once; the bad records name no day.
  assert.equal(res.newLineCount, 3);
});
