import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchWriter, F, openBatch } from '@haystack/flow-core';
import { parseAddress } from '@haystack/common';
import { Attributor, MemberExportError, RouteTable, parseMemberExport, writeMemberExport, normalizeMac, type Member } from './index.js';

const MEMBERS: Member[] = [
  { asn: 64500, name: 'Alpha Broadband', macs: ['02:00:00:00:01:01', '02:00:00:00:01:02'], addresses: ['192.0.2.1', '2001:db8:ffff::1'] },
  { asn: 64501, name: 'Beta Cable', macs: ['02:00:00:00:02:01'], addresses: ['192.0.2.2'] },
  { asn: 64502, name: 'Gamma Cloud', macs: ['02:00:00:00:03:01'], addresses: ['192.0.2.3'] },
];

test('IX-F member export: versions 0.6, 0.7 and 1.0; MAC spellings; malformed files refused by name', () => {
  const doc = writeMemberExport('TEST-IX', MEMBERS) as {
    version: string;
    member_list: { connection_list: { vlan_list: { ipv4: { mac_addresses: string[] } }[] }[] }[];
  };
  for (const v of ['0.6', '0.7', '1.0']) {
    const x = parseMemberExport(JSON.stringify({ ...doc, version: v }));
    assert.equal(x.version, v);
    assert.equal(x.ixpName, 'TEST-IX');
    assert.deepEqual(
      x.members.map((m) => [m.asn, m.name, m.macs.length]),
      [
        [64500, 'Alpha Broadband', 2],
        [64501, 'Beta Cable', 1],
        [64502, 'Gamma Cloud', 1],
      ],
    );
  }
  assert.equal(normalizeMac('02-00-00-00-01-01'), '02:00:00:00:01:01');
  assert.equal(normalizeMac('0200.0000.0101'), '02:00:00:00:01:01');
  assert.equal(normalizeMac('nonsense'), null);
  assert.throws(
    () => parseMemberExport('{', 'x.json'),
    (e: unknown) => e instanceof MemberExportError && /x\.json: not JSON/.test(e.message),
  );
  assert.throws(() => parseMemberExport('{"version":"2.0","member_list":[]}'), /version 2\.0 is not one of 0\.6, 0\.7, 1\.0/);
  assert.throws(() => parseMemberExport('{"version":"1.0"}'), /no "member_list" array/);
  assert.throws(() => parseMemberExport('{"version":"1.0","member_list":[{"asnum":"x"}]}'), /member_list\[0\]\.asnum is not an AS number/);
  const badMac = structuredClone(doc);
  badMac.member_list[1]!.connection_list[0]!.vlan_list[0]!.ipv4.mac_addresses = ['not-a-mac'];
  assert.throws(() => parseMemberExport(JSON.stringify(badMac)), /member AS64501: "not-a-mac" is not a MAC address/);
});

test('route table: longest prefix wins, IPv4 and IPv6, CAIDA prefix2as and "prefix/len AS" lines, bad lines named', () => {
  const t = RouteTable.parse('# comment\n198.51.100.0\t22\t64501\n198.51.100.0\t24\t64502_64999\n2001:db8:100::/40 64500\n10.0.0.0/8 64501,64502\n');
  assert.equal(t.size, 4);
  assert.equal(t.lookup(parseAddress('198.51.100.7')), 64502);
  assert.equal(t.lookup(parseAddress('198.51.101.7')), 64501);
  assert.equal(t.lookup(parseAddress('2001:db8:100:55::1')), 64500);
  assert.equal(t.lookup(parseAddress('203.0.113.1')), 0);
  assert.equal(t.lookup(parseAddress('10.9.8.7')), 64501);
  assert.throws(() => RouteTable.parse('1.2.3.4 hello world\n', 'rt.txt'), /rt\.txt:1: "world" is not an AS number|rt\.txt:1: expected/);
  assert.throws(() => RouteTable.parse('ok\n', 'rt.txt'), /rt\.txt:1: expected/);
});

test('route table as CSV ("prefix/len,AS"), with or without a header line', () => {
  for (const text of ['prefix,asn\n198.51.100.0/24,64502\n2001:db8:100::/40,64500\n', '198.51.100.0/24,64502\r\n2001:db8:100::/40,"64500"\r\n']) {
    const t = RouteTable.parse(text, 'rt.csv');
    assert.equal(t.size, 2);
    assert.equal(t.lookup(parseAddress('198.51.100.7')), 64502);
    assert.equal(t.lookup(parseAddress('2001:db8:100:55::1')), 64500);
  }
  assert.throws(() => RouteTable.parse('prefix,asn\n198.51.100.0/24,sixty\n', 'rt.csv'), /rt\.csv:2: "sixty" is not an AS number/);
});

/** One flow record with MACs and AS numbers as a fabric exporter gives them. */
function record(src: string, dst: string, srcMac: string, dstMac: string, srcAs = 0, dstAs = 0) {
  const w = new BatchWriter(1);
  const o = w.reserve(1);
  w.buf.set(parseAddress(src), o + F.src);
  w.buf.set(parseAddress(dst), o + F.dst);
  w.buf.set(Buffer.from(srcMac.replace(/:/g, ''), 'hex'), o + F.srcMac);
  w.buf.set(Buffer.from(dstMac.replace(/:/g, ''), 'hex'), o + F.dstMac);
  w.dv.setUint32(o + F.srcAs, srcAs, true);
  w.dv.setUint32(o + F.dstAs, dstAs, true);
  w.count = 1;
  const v = openBatch(w.finish());
  return { buf: v.buf, dv: v.dv, o: 32 };
}

test('attribution: the member router MAC on the host side, then the flow AS, then the route table; both directions, IPv4 and IPv6; unknown counted', () => {
  const x = parseMemberExport(JSON.stringify(writeMemberExport('TEST-IX', MEMBERS)));
  const routes = RouteTable.parse('100.64.0.0/10 64501\n2001:db8:b::/48 64501\n');
  const a = new Attributor(x, routes);
  const via = (r: ReturnType<typeof record>, src: boolean) => {
    const m = a.attribute(r.buf, r.dv, r.o, src);
    return m ? `${m.member.asn} ${m.via}` : null;
  };
  // Host → backend: the host is the source, its member's router sent the frame (source MAC).
  const up = record('100.64.1.2', '52.1.1.1', '02:00:00:00:01:02', '02:00:00:00:03:01');
  assert.equal(via(up, true), '64500 mac');
  // Backend → host: the host is the destination, the frame leaves by its member's router (destination MAC).
  const down = record('52.1.1.1', '100.64.1.2', '02:00:00:00:03:01', '02:00:00:00:01:01');
  assert.equal(via(down, false), '64500 mac');
  // IPv6, an unknown MAC but the flow's AS (extended gateway) names a member.
  const v6 = record('2001:db8:a::5', '2a05::1', '02:99:99:99:99:99', '02:00:00:00:03:01', 64501, 64502);
  assert.equal(via(v6, true), '64501 as');
  // No MAC, no AS: the route table.
  const bare = record('2001:db8:b::9', '2a05::1', '00:00:00:00:00:00', '00:00:00:00:00:00');
  assert.equal(via(bare, true), '64501 prefix');
  // Nothing known: unattributed, counted.
  const none = record('203.0.113.5', '52.1.1.1', '02:99:99:99:99:98', '00:00:00:00:00:00', 65000);
  assert.equal(via(none, true), null);
  assert.deepEqual(a.counts, { mac: 2, as: 1, prefix: 1, unattributed: 1 });
});
