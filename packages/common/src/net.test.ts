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
