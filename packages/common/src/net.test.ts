import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAddress, parseAddress, parsePrefix, PrefixSet } from './net.js';

test('addresses round-trip through 16 bytes (IPv4-mapped for IPv4)', () => {
  for (const a of ['10.1.2.3', '0.0.0.0', '255.255.255.255', '2001:db8::1', '::', '::1', '2a00:1450:4001:82b::200e', 'fe80::1:2:3:4', '2001:db8:0:1:0:0:0:1']) {
    const want = a === '2001:db8:0:1:0:0:0:1' ? '2001:db8:0:1::1' : a;
    assert.equal(formatAddress(parseAddress(a)), want);
  }
  assert.equal(formatAddress(parseAddress('::ffff:192.0.2.1')), '192.0.2.1');
  assert.throws(() => parseAddress('300.1.1.1'), /not an IP/);
});

test('prefix sets match longest prefix, IPv4 and IPv6, on raw bytes', () => {
  const s = new PrefixSet(['100.64.0.0/10', '100.64.1.0/24', '2001:db8::/32', '192.0.2.7']);
  assert.equal(s.prefixes[s.match(parseAddress('100.64.1.9'))]!.text, '100.64.1.0/24');
  assert.equal(s.prefixes[s.match(parseAddress('100.127.255.255'))]!.text, '100.64.0.0/10');
  assert.equal(s.match(parseAddress('100.128.0.0')), -1);
  assert.ok(s.containsText('2001:db8:ffff::1'));
  assert.ok(!s.containsText('2001:db9::1'));
  assert.ok(s.containsText('192.0.2.7'));
  assert.ok(!s.containsText('192.0.2.8'));
  assert.equal(parsePrefix('10.0.0.0/8').bits, 104);
  assert.throws(() => parsePrefix('10.0.0.0/33'), /not a valid CIDR/);
});

test('the IPv4 fast path agrees with the byte-wise longest-prefix match', () => {
  const sets = [
    new PrefixSet(['100.64.0.0/10', '10.0.0.0/8', '192.168.7.0/24', '198.51.100.77', '172.16.0.0/12', '2001:db8::/32']),
    new PrefixSet(['::/0']),
    new PrefixSet(['::ffff:0:0/96']),
    new PrefixSet(['::ffff:0:0/104', '203.0.113.128/25']),
    new PrefixSet(['2001:db8::/32']),
  ];
  let x = 12345;
  const buf = new Uint8Array(16);
  buf[10] = 0xff;
  buf[11] = 0xff;
  for (const set of sets) {
    const probes: number[] = [];
    for (let i = 0; i < 200_000; i++) probes.push((x = (Math.imul(x, 1664525) + 1013904223) >>> 0));
    for (const p of set.prefixes) {
      if (p.bits <= 96) continue;
      const net = ((p.bytes[12]! << 24) | (p.bytes[13]! << 16) | (p.bytes[14]! << 8) | p.bytes[15]!) >>> 0;
      const last = (net | (0xffffffff >>> (p.bits - 96))) >>> 0;
      probes.push(net, last, (net - 1) >>> 0, (last + 1) >>> 0);
    }
    for (const a of probes) {
      buf[12] = a >>> 24;
      buf[13] = (a >>> 16) & 0xff;
      buf[14] = (a >>> 8) & 0xff;
      buf[15] = a & 0xff;
      assert.equal(set.containsV4(a), set.match(buf) >= 0, `${buf.slice(12).join('.')} in ${set.prefixes.map((p) => p.text).join(',')}`);
      assert.equal(set.contains(buf), set.match(buf) >= 0);
    }
  }
});
