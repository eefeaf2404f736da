import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchWriter, openBatch, records, type FlowRecord } from '@haystack/flow-core';
import { FlowDecoder, PacketBuilder, IE, VARLEN, REVERSE_PEN, buildFrame, type FieldSpec, type FieldValue } from './index.js';

/**
 * Layouts found in real vendor exports, hand-built from the vendors' documented templates:
 * tunnel templates, NetFlow v9 variable-length fields, packet sections, Cisco ASA NSEL,
 * RFC 5103 biflows, total counters, link-layer and AS fields.
 */
const T0 = 1_700_000_000;

function run(version: 9 | 10, fields: FieldSpec[], rows: FieldValue[][]): { r: FlowRecord[]; dec: FlowDecoder } {
  const dec = new FlowDecoder();
  const pkt = new PacketBuilder(version, { domain: 1, exportSecs: T0, sequence: 0, uptimeMs: 1000 }).template(300, fields).data(300, rows).build();
  const w = new BatchWriter();
  dec.decode(pkt, '192.0.2.1', T0 * 1000, w);
  return { r: [...records(openBatch(w.finish()))], dec };
}
const counters = (dec: FlowDecoder) => [...dec.registry.all()][0]!.counters;
const f = (id: number, length: number, enterprise?: number): FieldSpec => ({ id, length, enterprise });

test('tunnel templates (Cisco IP-in-IP, SRv6, Huawei): the 5-tuple comes from the inner header, consistently', () => {
  // Outer IPv4 (protocol 4 = IP-in-IP, no ports) then the inner IPv4 header's fields.
  const ipip = run(
    9,
    [f(8, 4), f(12, 4), f(4, 1), f(8, 4), f(12, 4), f(7, 2), f(11, 2), f(4, 1), f(1, 4), f(2, 4)],
    [['198.51.100.1', '198.51.100.2', 4, '10.0.0.1', '52.1.2.3', 40000, 8883, 6, 1500, 3]],
  );
  assert.deepEqual(
    ipip.r.map((x) => [x.src, x.dst, x.proto, x.srcPort, x.dstPort, x.bytes]),
    [['10.0.0.1', '52.1.2.3', 6, 40000, 8883, 1500]],
  );
  // SRv6: outer IPv6 (next header 4), inner IPv4.
  const srv6 = run(
    10,
    [f(27, 16), f(28, 16), f(4, 1), f(8, 4), f(12, 4), f(7, 2), f(11, 2), f(4, 1), f(1, 8)],
    [['2001:db8::1', '2001:db8::2', 4, '10.0.0.9', '52.9.9.9', 5000, 443, 17, 99]],
  );
  assert.deepEqual(
    srv6.r.map((x) => [x.src, x.dst, x.proto, x.srcPort, x.dstPort, x.ipVersion]),
    [['10.0.0.9', '52.9.9.9', 17, 5000, 443, 4]],
  );
  // IPv6 inside IPv4 (protocol 41): the inner IPv6 pair.
  const six = run(
    10,
    [f(8, 4), f(12, 4), f(4, 1), f(27, 16), f(28, 16), f(7, 2), f(11, 2), f(4, 1), f(1, 8)],
    [['198.51.100.1', '198.51.100.2', 41, '2001:db8:1::5', '2a05::1', 1, 2, 6, 7]],
  );
  assert.deepEqual(
    six.r.map((x) => [x.src, x.dst, x.proto, x.ipVersion]),
    [['2001:db8:1::5', '2a05::1', 6, 6]],
  );
  const d = [...ipip.dec.registry.all()][0]!;
  assert.ok(
    d.templates.get(300)!.compiled!.notes.some((n) => /inner header/.test(n)),
    '`decode --templates` says how tunnel templates are read',
  );
});

test('NetFlow v9 templates with a variable-length field (H3C VRF name, length 65535) decode instead of being refused', () => {
  const { r, dec } = run(
    9,
    [f(8, 4), f(12, 4), f(7, 2), f(11, 2), f(4, 1), f(236, VARLEN), f(1, 4), f(2, 4)],
    [
      ['10.0.0.1', '10.0.0.2', 1, 2, 17, 'vpn-customer-a', 100, 1],
      ['10.0.0.3', '10.0.0.4', 3, 4, 6, '', 200, 2],
    ],
  );
  assert.deepEqual(
    r.map((x) => [x.src, x.bytes]),
    [
      ['10.0.0.1', 100],
      ['10.0.0.3', 200],
    ],
  );
  assert.equal(counters(dec).templatesRejected, 0);
});

test('packet sections (dataLinkFrameSection 315, ipHeaderPacketSection 313, ipPayloadPacketSection 314) give the 5-tuple', () => {
  const frame = buildFrame({
    srcMac: '00:00:5e:00:53:01',
    dstMac: '00:00:5e:00:53:02',
    vlans: [7],
    src: '10.1.1.1',
    dst: '52.2.2.2',
    proto: 6,
    srcPort: 4444,
    dstPort: 443,
    payload: 40,
  });
  // Juniper inline monitoring: the frame's first bytes (variable length) and the frame size.
  const eth = run(10, [f(315, VARLEN), f(312, 2), f(34, 4)], [[frame.subarray(0, 64), 1514, 1000]]);
  assert.deepEqual(
    eth.r.map((x) => [x.src, x.dst, x.proto, x.srcPort, x.dstPort, x.srcMac, x.vlan, x.bytes, x.packets, x.samplingRate]),
    [['10.1.1.1', '52.2.2.2', 6, 4444, 443, '00:00:5e:00:53:01', 7, 1514, 1, 1000]],
  );
  // IOS-XR: the IP header section, fixed length; bytes from the IP total length.
  const ip = buildFrame({ src: '2001:db8::7', dst: '2a05::8', proto: 17, srcPort: 5683, dstPort: 5683, payload: 20 }, true);
  const iph = run(10, [f(313, 56)], [[ip.subarray(0, 56)]]);
  assert.deepEqual(
    iph.r.map((x) => [x.src, x.dst, x.proto, x.srcPort, x.dstPort, x.bytes]),
    [['2001:db8::7', '2a05::8', 17, 5683, 5683, 40 + 8 + 20]],
  );
  // A frame that holds no IP packet (ARP) is counted, not published.
  const arp = Buffer.concat([Buffer.from('ffffffffffff020000000001', 'hex'), Buffer.from([0x08, 0x06]), Buffer.alloc(28)]);
  const none = run(10, [f(315, VARLEN)], [[arp]]);
  assert.equal(none.r.length, 0);
  assert.equal(counters(none.dec).recordsWithoutAddress, 1);
  // The payload section with addresses and protocol as fields: ports from the transport header.
  const udp = Buffer.from('1f9014e9001c0000', 'hex'); // 8080 → 5353
  const pay = run(10, [f(8, 4), f(12, 4), f(4, 1), f(314, VARLEN)], [['10.0.0.1', '10.0.0.2', 17, udp]]);
  assert.deepEqual(
    pay.r.map((x) => [x.srcPort, x.dstPort]),
    [[8080, 5353]],
  );
});

test('Cisco ASA NSEL: initiator/responder octets as counts, each direction a record; events never count a connection twice', () => {
  const fields = [f(148, 4), f(8, 4), f(12, 4), f(7, 2), f(11, 2), f(4, 1), f(233, 1), f(231, 4), f(232, 4), f(323, 8)];
  const row = (conn: number, ev: number, fwd: number, rev: number): FieldValue[] => [conn, '10.0.0.5', '52.7.7.7', 50000, 443, 6, ev, fwd, rev, T0 * 1000];
  const { r, dec } = run(9, fields, [
    row(1, 1, 0, 0), // created: no traffic of its own
    row(1, 5, 1000, 5000), // update: bytes since the last one, both directions
    row(1, 5, 10, 0), // update: forward only
    row(1, 2, 1010, 5000), // teardown after updates: the updates counted it all
    row(2, 2, 300, 700), // teardown of a short connection (no update came): its counts stand
    row(3, 3, 0, 0), // denied
    row(4, 4, 0, 0), // alert
  ]);
  assert.deepEqual(
    r.map((x) => [x.src, x.dst, x.srcPort, x.dstPort, x.bytes]),
    [
      ['10.0.0.5', '52.7.7.7', 50000, 443, 1000],
      ['52.7.7.7', '10.0.0.5', 443, 50000, 5000],
      ['10.0.0.5', '52.7.7.7', 50000, 443, 10],
      ['10.0.0.5', '52.7.7.7', 50000, 443, 300],
      ['52.7.7.7', '10.0.0.5', 443, 50000, 700],
    ],
  );
  const c = counters(dec);
  assert.deepEqual([c.nselEventsSkipped, c.reverseRecords, c.records], [4, 2, 5]);
});

test('Palo Alto PAN-OS: records it marks firewall event "created" carry traffic and are flows; a created event without traffic is still skipped', () => {
  // PAN-OS IPFIX: firewallEvent 1 on records that count the session's packets and bytes.
  const fields = [f(8, 4), f(12, 4), f(7, 2), f(11, 2), f(4, 1), f(233, 1), f(1, 8), f(2, 8), f(152, 8), f(153, 8)];
  const row = (i: number, ev: number, bytes: number, pkts: number): FieldValue[] => [
    `10.1.0.${i}`,
    '52.9.9.9',
    40000 + i,
    443,
    6,
    ev,
    bytes,
    pkts,
    BigInt(T0 * 1000),
    BigInt(T0 * 1000 + 900),
  ];
  const { r, dec } = run(10, fields, [row(1, 1, 1500, 3), row(2, 1, 64000, 50), row(3, 1, 0, 0), row(4, 2, 800, 2), row(5, 1, 52, 1)]);
  assert.deepEqual(
    r.map((x) => [x.src, x.bytes, x.packets]),
    [
      ['10.1.0.1', 1500, 3],
      ['10.1.0.2', 64000, 50],
      ['10.1.0.4', 800, 2],
      ['10.1.0.5', 52, 1],
    ],
  );
  assert.equal(counters(dec).nselEventsSkipped, 1);
});

test('IPFIX physical interfaces (252/253) are the input and output interface when 10/14 are absent; 10/14 win when both come', () => {
  const only = run(10, [f(8, 4), f(12, 4), f(4, 1), f(252, 4), f(253, 4), f(1, 8)], [['10.0.0.1', '10.0.0.2', 17, 513, 1027, 100]]);
  assert.deepEqual(
    only.r.map((x) => [x.inIf, x.outIf]),
    [[513, 1027]],
  );
  const both = run(10, [f(8, 4), f(12, 4), f(4, 1), f(252, 4), f(253, 4), f(10, 4), f(14, 4), f(1, 8)], [['10.0.0.1', '10.0.0.2', 17, 513, 1027, 3, 4, 100]]);
  assert.deepEqual(
    both.r.map((x) => [x.inIf, x.outIf]),
    [[3, 4]],
  );
});

test('RFC 5103 biflows: the reverse counters become a record of their own, swapped', () => {
  const fields = [f(8, 4), f(12, 4), f(7, 2), f(11, 2), f(4, 1), f(10, 4), f(14, 4), f(1, 8), f(2, 8), f(1, 8, REVERSE_PEN), f(2, 8, REVERSE_PEN)];
  const { r, dec } = run(10, fields, [
    ['10.0.0.1', '52.0.0.1', 1234, 443, 6, 3, 4, 500, 5, 9000, 9],
    ['10.0.0.2', '52.0.0.2', 1235, 53, 17, 3, 4, 80, 1, 0, 0], // no reverse traffic: one record
  ]);
  assert.deepEqual(
    r.map((x) => [x.src, x.dst, x.srcPort, x.dstPort, x.inIf, x.outIf, x.bytes, x.packets]),
    [
      ['10.0.0.1', '52.0.0.1', 1234, 443, 3, 4, 500, 5],
      ['52.0.0.1', '10.0.0.1', 443, 1234, 4, 3, 9000, 9],
      ['10.0.0.2', '52.0.0.2', 1235, 53, 3, 4, 80, 1],
    ],
  );
  assert.equal(counters(dec).reverseRecords, 1);
});

test('total counts (85/86) are used when delta counts are absent; MACs, VLAN and AS numbers are kept', () => {
  const { r } = run(
    10,
    [f(8, 4), f(12, 4), f(4, 1), f(IE.octetTotalCount, 8), f(IE.packetTotalCount, 8), f(56, 6), f(80, 6), f(58, 2), f(16, 4), f(17, 2)],
    [['10.0.0.1', '10.0.0.2', 17, 123456, 78, Buffer.from('020000000001', 'hex'), Buffer.from('020000000002', 'hex'), 42, 4200000000, 64500]],
  );
  assert.deepEqual(
    r.map((x) => [x.bytes, x.packets, x.srcMac, x.dstMac, x.vlan, x.srcAs, x.dstAs]),
    [[123456, 78, '02:00:00:00:00:01', '02:00:00:00:00:02', 42, 4200000000, 64500]],
  );
});

test('IPFIX sequence numbers count records as exported: reverse records made from biflows and skipped NSEL events leave no phantom gap', () => {
  const dec = new FlowDecoder();
  const w = new BatchWriter();
  const bi = [f(8, 4), f(12, 4), f(7, 2), f(11, 2), f(4, 1), f(1, 8), f(2, 8), f(1, 8, REVERSE_PEN), f(2, 8, REVERSE_PEN)];
  const row = (i: number): FieldValue[] => [`10.0.0.${i}`, '52.0.0.1', 1000 + i, 443, 6, 100, 1, 900, 2];
  let seq = 0;
  for (let k = 0; k < 3; k++) {
    const rows = [row(1), row(2), row(3)];
    const pkt = new PacketBuilder(10, { domain: 1, exportSecs: T0 + k, sequence: seq }).template(300, bi).data(300, rows).build();
    seq += rows.length;
    dec.decode(pkt, '192.0.2.1', (T0 + k) * 1000, w);
  }
  const c = counters(dec);
  assert.equal(c.records, 18, 'nine exported records, each with its reverse');
  assert.deepEqual([c.lost, c.sequenceGaps, c.reordered, c.sequenceResets], [0, 0, 0, 0]);
});
