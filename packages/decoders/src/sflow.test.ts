import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchWriter, openBatch, PROTOCOL, records, type FlowRecord } from '@haystack/flow-core';
import { FlowDecoder, buildSflowDatagram, buildFrame, sflowState, type SampleSpec, type FlowRecordSpec, type DatagramSpec } from './index.js';

/** Hand-built sFlow v5 datagrams for every sample and record type we read (sflow.org sFlow Version 5). */
function decode(dec: FlowDecoder, ...datagrams: Buffer[]): FlowRecord[] {
  const w = new BatchWriter();
  for (const d of datagrams) dec.decode(d, '203.0.113.1', 1_700_000_000_000, w);
  return [...records(openBatch(w.finish()))];
}

function one(
  recs: FlowRecordSpec[],
  extra: Partial<Extract<SampleSpec, { kind: 'flow' }>> = {},
  dg: Partial<DatagramSpec> = {},
): { r: FlowRecord[]; dec: FlowDecoder } {
  const dec = new FlowDecoder();
  const r = decode(
    dec,
    buildSflowDatagram({
      agent: '192.0.2.10',
      sequence: 1,
      samples: [{ kind: 'flow', sequence: 1, sourceIndex: 7, rate: 1000, records: recs, ...extra }],
      ...dg,
    }),
  );
  return { r, dec };
}

const header = (frame: Buffer, frameLength = frame.length + 4, protocol = 1): FlowRecordSpec => ({ kind: 'header', protocol, frameLength, header: frame });
const counters = (dec: FlowDecoder) => [...dec.registry.all()][0]!.counters;

test('raw Ethernet header with an 802.1Q tag: 5-tuple, MACs, VLAN, TCP flags, rate and frame length', () => {
  const frame = buildFrame({
    srcMac: '00:11:22:33:44:55',
    dstMac: '66:77:88:99:aa:bb',
    vlans: [42],
    src: '10.0.0.1',
    dst: '93.184.216.34',
    proto: 6,
    srcPort: 40000,
    dstPort: 443,
    tcpFlags: 0x12,
    payload: 100,
  });
  const { r } = one([header(frame, 1518)], { input: 5, output: 9 });
  assert.equal(r.length, 1);
  const x = r[0]!;
  assert.deepEqual(
    [x.src, x.dst, x.proto, x.srcPort, x.dstPort, x.tcpFlags, x.ipVersion, x.srcMac, x.dstMac, x.vlan, x.bytes, x.packets, x.samplingRate, x.inIf, x.outIf],
    ['10.0.0.1', '93.184.216.34', 6, 40000, 443, 0x12, 4, '00:11:22:33:44:55', '66:77:88:99:aa:bb', 42, 1518, 1, 1000, 5, 9],
  );
  assert.deepEqual([x.exporter, x.observationDomain, x.flowVersion, x.start, x.end], ['192.0.2.10', 0, PROTOCOL.sflow5, 1_700_000_000_000, 1_700_000_000_000]);
});

test('QinQ: the outer (service) tag is the VLAN; MPLS label stacks are walked to IPv4 and IPv6', () => {
  const qinq = buildFrame({ vlans: [100, 200], src: '10.0.0.2', dst: '10.0.0.3', proto: 17, srcPort: 5353, dstPort: 53 });
  assert.deepEqual(
    one([header(qinq)]).r.map((x) => [x.vlan, x.src, x.dstPort]),
    [[100, '10.0.0.2', 53]],
  );
  const m4 = buildFrame({ mpls: [16, 17, 18], src: '10.1.0.1', dst: '10.2.0.1', proto: 17, srcPort: 1, dstPort: 2 });
  const m6 = buildFrame({ mpls: [16], src: '2001:db8::1', dst: '2001:db8::2', proto: 6, srcPort: 3, dstPort: 4 });
  assert.deepEqual(
    one([header(m4)]).r.map((x) => [x.src, x.dst, x.srcPort, x.dstPort]),
    [['10.1.0.1', '10.2.0.1', 1, 2]],
  );
  assert.deepEqual(
    one([header(m6)]).r.map((x) => [x.src, x.dst, x.proto, x.ipVersion]),
    [['2001:db8::1', '2001:db8::2', 6, 6]],
  );
});

test('Ethernet over MPLS (control word, inner frame): inner addresses, outer MACs', () => {
  const inner = buildFrame({
    srcMac: '02:00:00:00:00:aa',
    dstMac: '02:00:00:00:00:bb',
    src: '172.16.0.1',
    dst: '172.16.0.2',
    proto: 6,
    srcPort: 80,
    dstPort: 8080,
  });
  const outer = buildFrame({ srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', mpls: [100], src: '0.0.0.0', dst: '0.0.0.0', proto: 0 });
  // Keep the outer Ethernet + one label (bottom of stack), then a zero control word and the inner frame.
  const frame = Buffer.concat([outer.subarray(0, 18), Buffer.alloc(4), inner]);
  const [x] = one([header(frame)]).r;
  assert.deepEqual([x!.src, x!.dst, x!.srcPort, x!.dstPort, x!.srcMac], ['172.16.0.1', '172.16.0.2', 80, 8080, '02:00:00:00:00:01']);
});

test('IPv6 extension headers, IPv4 fragments, IP-in-IP and ICMP', () => {
  const ext = buildFrame({ src: '2001:db8::a', dst: '2001:db8::b', proto: 17, srcPort: 1000, dstPort: 2000, ipv6Ext: [0, 60, 43] });
  assert.deepEqual(
    one([header(ext)]).r.map((x) => [x.proto, x.srcPort, x.dstPort]),
    [[17, 1000, 2000]],
  );
  // A later fragment has no transport header: protocol kept, ports 0.
  const frag = buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, fragmentOffset: 185 });
  assert.deepEqual(
    one([header(frag)]).r.map((x) => [x.proto, x.srcPort, x.dstPort]),
    [[17, 0, 0]],
  );
  // IP-in-IP: the inner header gives the 5-tuple (as for tunnel templates).
  const innerIp = buildFrame({ src: '192.168.1.1', dst: '8.8.8.8', proto: 17, srcPort: 999, dstPort: 53 }, true);
  const outer = buildFrame({ src: '198.51.100.1', dst: '198.51.100.2', proto: 4 });
  const tunnel = Buffer.concat([outer.subarray(0, 14), outer.subarray(14, 34), innerIp]);
  tunnel.writeUInt16BE(20 + innerIp.length, 16);
  assert.deepEqual(
    one([header(tunnel)]).r.map((x) => [x.src, x.dst, x.proto, x.dstPort]),
    [['192.168.1.1', '8.8.8.8', 17, 53]],
  );
  const icmp = buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', proto: 1, dstPort: 0x0800 });
  assert.deepEqual(
    one([header(icmp)]).r.map((x) => [x.proto, x.dstPort]),
    [[1, 0x0800]],
  );
  // Raw header given as an IPv4 packet (header_protocol 11).
  const ipOnly = buildFrame({ src: '10.9.9.9', dst: '10.8.8.8', proto: 6, srcPort: 1, dstPort: 2 }, true);
  assert.deepEqual(
    one([header(ipOnly, 60, 11)]).r.map((x) => [x.src, x.bytes, x.srcMac]),
    [['10.9.9.9', 60, null]],
  );
});

test('sampled IPv4 / IPv6 / Ethernet records stand in for a raw header; switch, router and gateway extensions', () => {
  const { r } = one([
    { kind: 'ethernet', length: 1400, srcMac: 'aa:bb:cc:00:00:01', dstMac: 'aa:bb:cc:00:00:02', type: 0x0800 },
    { kind: 'ipv4', length: 1382, proto: 6, src: '10.0.0.5', dst: '10.0.0.6', srcPort: 1234, dstPort: 8883, tcpFlags: 0x18 },
    { kind: 'switch', srcVlan: 300, dstVlan: 300 },
    { kind: 'router', nextHop: '192.0.2.254', srcMask: 24, dstMask: 16 },
    {
      kind: 'gateway',
      nextHop: '192.0.2.254',
      as: 64500,
      srcAs: 64501,
      srcPeerAs: 64502,
      asPath: [
        [64510, 64511],
        [64512, 64513],
      ],
    },
  ]);
  assert.deepEqual(
    r.map((x) => [x.src, x.dst, x.proto, x.srcPort, x.dstPort, x.tcpFlags, x.bytes, x.srcMac, x.dstMac, x.vlan, x.srcAs, x.dstAs]),
    [['10.0.0.5', '10.0.0.6', 6, 1234, 8883, 0x18, 1400, 'aa:bb:cc:00:00:01', 'aa:bb:cc:00:00:02', 300, 64501, 64513]],
  );
  const v6 = one([{ kind: 'ipv6', length: 500, proto: 17, src: '2001:db8::1', dst: '2001:db8::2', srcPort: 5, dstPort: 6 }]).r;
  assert.deepEqual(
    v6.map((x) => [x.src, x.dst, x.ipVersion, x.bytes]),
    [['2001:db8::1', '2001:db8::2', 6, 500]],
  );
  // An IPv6 agent address, expanded flow sample with its own interface format.
  const frame = buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, srcPort: 1, dstPort: 2 });
  const ex = one([header(frame)], { expanded: true, input: 70000, output: 80000 }, { agent: '2001:db8:ffff::1', subAgent: 9 });
  assert.deepEqual(
    ex.r.map((x) => [x.exporter, x.observationDomain, x.inIf, x.outIf]),
    [['2001:db8:ffff::1', 9, 70000, 80000]],
  );
});

test('sFlow edge values: router AS for a local end, VLAN "unknown" and outgoing-only tags, the internal interface', () => {
  const frame = buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, srcPort: 1, dstPort: 2 });
  // Source AS 0 and no destination path: both ends are the router's own AS.
  const local = one([header(frame), { kind: 'gateway', nextHop: '192.0.2.254', as: 64500, srcAs: 0, srcPeerAs: 0, asPath: [] }]).r;
  assert.deepEqual(
    local.map((x) => [x.srcAs, x.dstAs]),
    [[64500, 64500]],
  );
  const half = one([header(frame), { kind: 'gateway', nextHop: '192.0.2.254', as: 64500, srcAs: 0, srcPeerAs: 0, asPath: [[3356, 15169]] }]).r;
  assert.deepEqual(
    half.map((x) => [x.srcAs, x.dstAs]),
    [[64500, 15169]],
  );
  // 0xFFFFFFFF is "unknown", not VLAN 4095; a frame tagged only on its way out keeps that VLAN.
  const vlans = (srcVlan: number, dstVlan: number) => one([header(frame), { kind: 'switch', srcVlan, dstVlan }]).r.map((x) => x.vlan);
  assert.deepEqual(vlans(0xffffffff, 0xffffffff), [0]);
  assert.deepEqual(vlans(0xffffffff, 200), [200]);
  assert.deepEqual(vlans(0, 201), [201]);
  assert.deepEqual(vlans(300, 200), [300]);
  // ifIndex 0x3FFFFFFF is the device's internal interface: not an interface number.
  const internal = one([header(frame)], { input: 0x3fffffff, output: 12 }).r;
  assert.deepEqual(
    internal.map((x) => [x.inIf, x.outIf]),
    [[0, 12]],
  );
  const internalEx = one([header(frame)], { expanded: true, input: 0x3fffffff, output: 13 }).r;
  assert.deepEqual(
    internalEx.map((x) => [x.inIf, x.outIf]),
    [[0, 13]],
  );
});

test('counter samples are kept as interface health; unknown samples and records are skipped by length and counted', () => {
  const frame = buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, srcPort: 1, dstPort: 2 });
  const dec = new FlowDecoder();
  const r = decode(
    dec,
    buildSflowDatagram({
      agent: '192.0.2.20',
      sequence: 1,
      samples: [
        { kind: 'counters', sequence: 1, sourceIndex: 3, ifIndex: 3, inOctets: 5e9, outOctets: 7e9, inDiscards: 4, outErrors: 2 },
        { kind: 'counters', expanded: true, sequence: 1, sourceIndex: 4, ifIndex: 4 },
        { kind: 'raw', format: (4413 << 12) | 5, body: Buffer.alloc(12) },
        { kind: 'flow', sequence: 1, sourceIndex: 3, rate: 10, records: [{ kind: 'raw', format: 1010, body: Buffer.alloc(8) }, header(frame)] },
      ],
    }),
  );
  assert.equal(r.length, 1);
  const c = counters(dec);
  assert.deepEqual([c.counterSamples, c.unknownSamples, c.unknownFlowRecords, c.records], [2, 1, 1, 1]);
  const st = sflowState([...dec.registry.all()][0]!)!;
  const if3 = st.interfaces.get(3)!;
  assert.deepEqual([if3.inOctets, if3.outOctets, if3.inDiscards, if3.outErrors], [5e9, 7e9, 4, 2]);
  assert.ok(st.interfaces.has(4));
});

test('lengths that lie: the datagram keeps every sample before the lie; a bad record loses only its sample', () => {
  const frame = buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, srcPort: 1, dstPort: 2 });
  const good: SampleSpec = { kind: 'flow', sequence: 1, sourceIndex: 1, rate: 1, records: [header(frame)] };
  const dg = buildSflowDatagram({ agent: '192.0.2.30', sequence: 1, samples: [good, { ...good, sequence: 2 }] });
  // Second sample's length field made to run past the datagram.
  const second = dg.length - (dg.length - 28) / 2;
  const lying = Buffer.from(dg);
  lying.writeUInt32BE(100000, second + 4);
  const dec = new FlowDecoder();
  assert.equal(decode(dec, lying).length, 1);
  assert.equal(counters(dec).malformedPackets, 1);

  // A flow record whose length runs past its sample: that sample is dropped, the next one kept.
  const bad = Buffer.from(buildSflowDatagram({ agent: '192.0.2.31', sequence: 1, samples: [good, { ...good, sequence: 2 }] }));
  bad.writeUInt32BE(5000, 28 + 8 + 32 + 4); // first record's length in the first sample
  const dec2 = new FlowDecoder();
  assert.equal(decode(dec2, bad).length, 1);
  assert.equal(counters(dec2).malformedRecords, 1);

  // A header cut before the ports (small header length): addresses kept, counted as truncated.
  const cut = one([header(frame.subarray(0, 14 + 20 + 2))]);
  assert.deepEqual(
    cut.r.map((x) => [x.src, x.srcPort]),
    [['10.0.0.1', 0]],
  );
  assert.equal(counters(cut.dec).truncatedHeaders, 1);

  // Fewer samples than announced; not sFlow at all; a truncated header.
  const short = Buffer.from(dg.subarray(0, second));
  const dec3 = new FlowDecoder();
  assert.equal(decode(dec3, short, Buffer.from([0, 0, 0, 5, 0, 0, 0, 9])).length, 1);
  assert.equal(counters(dec3).malformedPackets, 1);
  assert.equal([...dec3.exporters.values()][0]!.malformedPackets, 1);
});

test('a sample without an IP packet (ARP) is counted, not published as :: → ::', () => {
  const arp = Buffer.concat([Buffer.from('ffffffffffff020000000001', 'hex'), Buffer.from([0x08, 0x06]), Buffer.alloc(28)]);
  const { r, dec } = one([header(arp)]);
  assert.equal(r.length, 0);
  assert.equal(counters(dec).recordsWithoutAddress, 1);
});

test('sequence accounting: datagrams per agent/sub-agent, samples and drops per source', () => {
  const frame = buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, srcPort: 1, dstPort: 2 });
  const s = (seq: number, src: number, drops = 0): SampleSpec => ({
    kind: 'flow',
    sequence: seq,
    sourceIndex: src,
    rate: 100,
    drops,
    records: [header(frame)],
  });
  const dec = new FlowDecoder();
  decode(
    dec,
    buildSflowDatagram({ agent: '192.0.2.40', sequence: 1, samples: [s(1, 1), s(1, 2)] }),
    buildSflowDatagram({ agent: '192.0.2.40', sequence: 2, samples: [s(2, 1), s(5, 2, 7)] }), // source 2 skipped 3 samples, 7 drops
    buildSflowDatagram({ agent: '192.0.2.40', sequence: 5, samples: [s(3, 1)] }), // 2 datagrams lost
    buildSflowDatagram({ agent: '192.0.2.40', subAgent: 1, sequence: 1, samples: [s(1, 1)] }), // another sub-agent: its own state
  );
  const domains = [...dec.registry.all()];
  assert.equal(domains.length, 2);
  const c = domains.find((d) => d.domain === 0)!.counters;
  assert.deepEqual([c.lost, c.sequenceGaps, c.samplesLost, c.sampleDrops, c.records], [2, 1, 3, 7, 5]);
  assert.equal(domains.find((d) => d.domain === 1)!.counters.lost, 0);
  // The rate shown for the agent (health snapshots, metrics, console): its samples' rate, not "unknown".
  assert.equal(domains.find((d) => d.domain === 0)!.shownRate, 100);
});
