import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchWriter, openBatch, type FlowRecord, records } from '@haystack/flow-core';
import { PacketBuilder, buildV5, SamplingConfig, IE, VARLEN, type FieldSpec } from './index.js';
import { FlowDecoder } from './index.js';

const EXP = '192.0.2.10';
const T0 = 1_700_000_000; // export time, Unix s

function decodeAll(dec: FlowDecoder, packets: Buffer[], exporter = EXP, receivedMs = T0 * 1000): FlowRecord[] {
  const w = new BatchWriter(4);
  for (const p of packets) dec.decode(p, exporter, receivedMs, w);
  return [...records(openBatch(w.finish()))];
}

function domain(dec: FlowDecoder, version: number, id: number, exporter = EXP) {
  for (const d of dec.registry.all()) if (d.exporterText === exporter && d.version === version && d.domain === id) return d;
  throw new Error(`no domain ${exporter}/${version}/${id}`);
}

const V4_FIELDS: FieldSpec[] = [
  { id: IE.sourceIPv4Address, length: 4 },
  { id: IE.destinationIPv4Address, length: 4 },
  { id: IE.sourceTransportPort, length: 2 },
  { id: IE.destinationTransportPort, length: 2 },
  { id: IE.protocolIdentifier, length: 1 },
  { id: IE.tcpControlBits, length: 1 },
  { id: IE.packetDeltaCount, length: 4 },
  { id: IE.octetDeltaCount, length: 8 },
  { id: IE.ingressInterface, length: 2 },
  { id: IE.egressInterface, length: 4 },
  { id: IE.flowStartSysUpTime, length: 4 },
  { id: IE.flowEndSysUpTime, length: 4 },
];

test('NetFlow v5: records, uptime-relative times, header sampling, AS numbers, flow sequence gaps', () => {
  const dec = new FlowDecoder();
  const p1 = buildV5(
    { uptimeMs: 100_000, exportSecs: T0, nsecs: 500_000_000, sequence: 0, engineType: 1, engineId: 2, samplingInterval: 512, samplingMode: 1 },
    [
      {
        src: '10.1.2.3',
        dst: '203.0.113.9',
        packets: 10,
        bytes: 1500,
        first: 40_000,
        last: 90_000,
        srcPort: 51000,
        dstPort: 443,
        proto: 6,
        tcpFlags: 0x1b,
        inIf: 3,
        outIf: 7,
        srcAs: 64500,
        dstAs: 15169,
      },
      { src: '10.1.2.4', dst: '198.51.100.1', packets: 1, bytes: 76, first: 99_000, last: 99_000, srcPort: 123, dstPort: 123, proto: 17 },
    ],
  );
  // Next packet claims sequence 5: flows 2,3,4 were lost.
  const p2 = buildV5({ uptimeMs: 101_000, exportSecs: T0 + 1, sequence: 5, engineType: 1, engineId: 2 }, [
    { src: '10.9.9.9', dst: '192.0.2.1', packets: 2, bytes: 100, first: 100_500, last: 100_900, srcPort: 1, dstPort: 2, proto: 17 },
  ]);
  const r = decodeAll(dec, [p1, p2]);
  assert.equal(r.length, 3);
  const exportMs = T0 * 1000 + 500;
  assert.deepEqual(
    { ...r[0], exporter: r[0]!.exporter },
    {
      start: exportMs - 60_000,
      end: exportMs - 10_000,
      exporter: EXP,
      observationDomain: 0x0102,
      flowVersion: 5,
      templateId: 0,
      ipVersion: 4,
      src: '10.1.2.3',
      dst: '203.0.113.9',
      srcPort: 51000,
      dstPort: 443,
      proto: 6,
      tcpFlags: 0x1b,
      packets: 10,
      bytes: 1500,
      samplingRate: 512,
      inIf: 3,
      outIf: 7,
      direction: null,
      subscriberSide: null,
      srcMac: null,
      dstMac: null,
      vlan: 0,
      srcAs: 64500,
      dstAs: 15169,
    },
  );
  // Second packet announces no sampling: unknown (0) and counted.
  assert.equal(r[2]!.samplingRate, 0);
  const d = domain(dec, 5, 0x0102);
  assert.equal(d.counters.sequenceGaps, 1);
  assert.equal(d.counters.lost, 3);
  assert.equal(d.counters.records, 3);
  assert.equal(d.counters.unknownRateRecords, 1);
});

test('NetFlow v9: template and data in one packet, several flowsets, IPv4 and IPv6, uptime wrap', () => {
  const dec = new FlowDecoder();
  const v6: FieldSpec[] = [
    { id: IE.sourceIPv6Address, length: 16 },
    { id: IE.destinationIPv6Address, length: 16 },
    { id: IE.sourceTransportPort, length: 2 },
    { id: IE.destinationTransportPort, length: 2 },
    { id: IE.protocolIdentifier, length: 1 },
    { id: IE.packetDeltaCount, length: 4 },
    { id: IE.octetDeltaCount, length: 4 },
    { id: IE.flowStartSysUpTime, length: 4 },
    { id: IE.flowEndSysUpTime, length: 4 },
    { id: IE.flowDirection, length: 1 },
  ];
  // sysUptime just wrapped past 2^32: a flow that started before the wrap.
  const uptime = 5_000;
  const pkt = new PacketBuilder(9, { domain: 7, exportSecs: T0, sequence: 1, uptimeMs: uptime })
    .template(256, V4_FIELDS)
    .template(257, v6)
    .data(256, [
      ['100.64.1.1', '52.1.2.3', 40000, 8883, 6, 0x18, 12, 3400, 7, 9, 2 ** 32 - 5_000, 1_000],
      ['100.64.1.2', '52.1.2.4', 40001, 443, 6, 0x02, 1, 60, 7, 9, 4_000, 4_500],
    ])
    .data(257, [['2001:db8:1::10', '2a05:d018::1', 5353, 443, 17, 4, 480, 2_000, 4_000, 1]])
    .build();
  const r = decodeAll(dec, [pkt]);
  assert.equal(r.length, 3);
  const exportMs = T0 * 1000;
  assert.equal(r[0]!.start, exportMs - 10_000); // 5,000 ms before the wrap + 5,000 after
  assert.equal(r[0]!.end, exportMs - 4_000);
  assert.equal(r[0]!.bytes, 3400);
  assert.equal(r[0]!.tcpFlags, 0x18);
  assert.equal(r[0]!.outIf, 9);
  assert.equal(r[0]!.templateId, 256);
  assert.equal(r[0]!.observationDomain, 7);
  assert.equal(r[1]!.start, exportMs - 1_000);
  assert.equal(r[2]!.ipVersion, 6);
  assert.equal(r[2]!.src, '2001:db8:1::10');
  assert.equal(r[2]!.dst, '2a05:d018::1');
  assert.equal(r[2]!.direction, 'egress');
  assert.equal(r[2]!.start, exportMs - 3_000);
  assert.equal(r[0]!.direction, null);
});

test('NetFlow v9 sampling: exporter-wide option 34, samplers 48/49/50 picked by the data record, rate in the record', () => {
  const dec = new FlowDecoder();
  const withSampler: FieldSpec[] = [...V4_FIELDS, { id: IE.samplerId, length: 1 }];
  const withInterval: FieldSpec[] = [...V4_FIELDS, { id: IE.samplingInterval, length: 4 }];
  const row = (extra: number) => ['10.0.0.1', '52.0.0.1', 1, 2, 17, 0, 1, 100, 1, 2, 0, 0, extra];
  const pkt = new PacketBuilder(9, { domain: 1, exportSecs: T0, sequence: 0, uptimeMs: 1000 })
    // softflowd style: option 34 with a System scope, no sampler id → whole exporter.
    .optionsTemplate(
      300,
      [{ id: 1, length: 4 }],
      [
        { id: IE.samplingInterval, length: 4 },
        { id: IE.samplingAlgorithm, length: 1 },
      ],
    )
    .data(300, [[0, 1000, 2]])
    // pmacct style: sampler id / mode / interval.
    .optionsTemplate(
      301,
      [{ id: 1, length: 4 }],
      [
        { id: IE.samplerId, length: 1 },
        { id: IE.samplerMode, length: 1 },
        { id: IE.samplerRandomInterval, length: 4 },
      ],
    )
    .data(301, [
      [0, 5, 2, 64],
      [0, 6, 2, 4096],
    ])
    .template(400, withSampler)
    .template(401, withInterval)
    .template(402, V4_FIELDS)
    .data(400, [row(5), row(6), row(9)])
    .data(401, [row(250)])
    .data(402, [row(0).slice(0, 12)])
    .build();
  const r = decodeAll(dec, [pkt]);
  assert.deepEqual(
    r.map((x) => x.samplingRate),
    [64, 4096, 1000, 250, 1000],
  );
  assert.equal(domain(dec, 9, 1).counters.optionsRecords, 3);
});

test('sampling configuration: per-exporter fallback, override, and global default', () => {
  const sampling = new SamplingConfig(
    [
      { exporter: '192.0.2.0/24', rate: 2048, override: false },
      { exporter: '198.51.100.7', rate: 10, override: true },
    ],
    100,
  );
  const dec = new FlowDecoder({ sampling });
  const mk = (rate?: number) => {
    const b = new PacketBuilder(9, { domain: 0, exportSecs: T0, sequence: 0, uptimeMs: 0 });
    if (rate) b.optionsTemplate(300, [{ id: 1, length: 4 }], [{ id: IE.samplingInterval, length: 4 }]).data(300, [[0, rate]]);
    return b
      .template(256, V4_FIELDS)
      .data(256, [['10.0.0.1', '52.0.0.1', 1, 2, 17, 0, 1, 100, 1, 2, 0, 0]])
      .build();
  };
  assert.equal(decodeAll(dec, [mk()], '192.0.2.44')[0]!.samplingRate, 2048, 'exporter fallback when nothing announced');
  assert.equal(decodeAll(dec, [mk(500)], '192.0.2.45')[0]!.samplingRate, 500, 'announcement beats fallback');
  assert.equal(decodeAll(dec, [mk(500)], '198.51.100.7')[0]!.samplingRate, 10, 'override beats announcement');
  assert.equal(decodeAll(dec, [mk()], '203.0.113.1')[0]!.samplingRate, 100, 'global default');
});

test('IPFIX: PSAMP 305/306 per selector id, 309/310, and a sole selector applying to the whole domain', () => {
  const dec = new FlowDecoder();
  const flow: FieldSpec[] = [...V4_FIELDS.slice(0, 8), { id: IE.selectorId, length: 8 }];
  const pkt = new PacketBuilder(10, { domain: 3, exportSecs: T0, sequence: 0 })
    .optionsTemplate(
      500,
      [{ id: IE.selectorId, length: 8 }],
      [
        { id: IE.selectorAlgorithm, length: 2 },
        { id: IE.samplingPacketInterval, length: 4 },
        { id: IE.samplingPacketSpace, length: 4 },
      ],
    )
    .data(500, [
      [1, 1, 1, 99],
      [2, 1, 2, 2046],
    ])
    .optionsTemplate(
      501,
      [{ id: IE.selectorId, length: 8 }],
      [
        { id: IE.samplingSize, length: 4 },
        { id: IE.samplingPopulation, length: 4 },
      ],
    )
    .data(501, [[3, 1, 10000]])
    .template(600, flow)
    .data(600, [
      ['10.0.0.1', '52.0.0.1', 1, 2, 6, 0, 1, 100, 1],
      ['10.0.0.1', '52.0.0.1', 1, 2, 6, 0, 1, 100, 2],
      ['10.0.0.1', '52.0.0.1', 1, 2, 6, 0, 1, 100, 3],
    ])
    .build();
  assert.deepEqual(
    decodeAll(dec, [pkt]).map((x) => x.samplingRate),
    [100, 1024, 10000],
  );

  // softflowd-style: one selector announced, data records naming none → that selector's rate.
  const dec2 = new FlowDecoder();
  const pkt2 = new PacketBuilder(10, { domain: 0, exportSecs: T0, sequence: 0 })
    .optionsTemplate(
      500,
      [{ id: IE.selectorId, length: 8 }],
      [
        { id: IE.samplingPacketInterval, length: 4 },
        { id: IE.samplingPacketSpace, length: 4 },
      ],
    )
    .data(500, [[7, 1, 511]])
    .template(600, V4_FIELDS.slice(0, 8))
    .data(600, [['10.0.0.1', '52.0.0.1', 1, 2, 6, 0, 1, 100]])
    .build();
  assert.equal(decodeAll(dec2, [pkt2])[0]!.samplingRate, 512);
});

test('IPFIX timestamps: seconds, milliseconds, NTP micro/nanoseconds, sysUpTime with systemInitTime, deltas', () => {
  const dec = new FlowDecoder();
  const base: FieldSpec[] = [
    { id: IE.sourceIPv4Address, length: 4 },
    { id: IE.destinationIPv4Address, length: 4 },
  ];
  const NTP = 2208988800;
  const startMs = T0 * 1000 - 61_250; // .250 s fraction
  const endMs = T0 * 1000 - 1_500;
  const ntp = (ms: number) => (BigInt(Math.floor(ms / 1000) + NTP) << 32n) | BigInt(Math.round(((ms % 1000) / 1000) * 2 ** 32));
  const init = T0 * 1000 - 3_600_000;
  const pkt = new PacketBuilder(10, { domain: 1, exportSecs: T0, sequence: 0 })
    .template(700, [...base, { id: IE.flowStartSeconds, length: 4 }, { id: IE.flowEndSeconds, length: 4 }])
    .data(700, [['10.0.0.1', '52.0.0.1', T0 - 61, T0 - 1]])
    .template(701, [...base, { id: IE.flowStartMilliseconds, length: 8 }, { id: IE.flowEndMilliseconds, length: 8 }])
    .data(701, [['10.0.0.1', '52.0.0.1', startMs, endMs]])
    .template(702, [...base, { id: IE.flowStartMicroseconds, length: 8 }, { id: IE.flowEndMicroseconds, length: 8 }])
    .data(702, [['10.0.0.1', '52.0.0.1', ntp(startMs), ntp(endMs)]])
    .template(703, [...base, { id: IE.flowStartNanoseconds, length: 8 }, { id: IE.flowEndNanoseconds, length: 8 }])
    .data(703, [['10.0.0.1', '52.0.0.1', ntp(startMs), ntp(endMs)]])
    .template(704, [
      ...base,
      { id: IE.flowStartSysUpTime, length: 4 },
      { id: IE.flowEndSysUpTime, length: 4 },
      { id: IE.systemInitTimeMilliseconds, length: 8 },
    ])
    .data(704, [['10.0.0.1', '52.0.0.1', startMs - init, endMs - init, init]])
    .template(705, [...base, { id: IE.flowStartDeltaMicroseconds, length: 4 }, { id: IE.flowEndDeltaMicroseconds, length: 4 }])
    .data(705, [['10.0.0.1', '52.0.0.1', (T0 * 1000 - startMs) * 1000, (T0 * 1000 - endMs) * 1000]])
    // sysUpTime-relative with the init time sent once in options (softflowd's way).
    .optionsTemplate(706, [{ id: IE.observationDomainId, length: 4 }], [{ id: IE.systemInitTimeMilliseconds, length: 8 }])
    .data(706, [[1, init]])
    .template(707, [...base, { id: IE.flowStartSysUpTime, length: 4 }, { id: IE.flowEndSysUpTime, length: 4 }])
    .data(707, [['10.0.0.1', '52.0.0.1', startMs - init, endMs - init]])
    .build();
  const r = decodeAll(dec, [pkt]);
  assert.equal(r.length, 7);
  assert.deepEqual([r[0]!.start, r[0]!.end], [(T0 - 61) * 1000, (T0 - 1) * 1000]);
  for (const x of r.slice(1)) {
    assert.ok(Math.abs(x.start - startMs) < 0.001, `start ${x.start} template ${x.templateId}`);
    assert.ok(Math.abs(x.end - endMs) < 0.001, `end ${x.end} template ${x.templateId}`);
  }
  assert.equal(domain(dec, 10, 1).counters.unanchoredTimes, 0);
});

test('IPFIX: variable-length and enterprise elements skipped, padding, withdrawals single and all', () => {
  const dec = new FlowDecoder();
  const fields: FieldSpec[] = [
    { id: IE.sourceIPv4Address, length: 4 },
    { id: 82, length: VARLEN }, // interfaceName
    { id: 1, length: 4, enterprise: 2636 }, // a vendor element numbered like octetDeltaCount: must not be taken for it (29305, RFC 5103 reverse, is read: vendor.test.ts)
    { id: IE.destinationIPv4Address, length: 4 },
    { id: IE.octetDeltaCount, length: 4 },
    { id: 5, length: VARLEN, enterprise: 9 },
  ];
  const long = 'x'.repeat(300); // 3-byte length prefix
  const pkt = new PacketBuilder(10, { domain: 0, exportSecs: T0, sequence: 0 }, true)
    .template(800, fields)
    .data(800, [
      ['10.0.0.1', 'eth0', 999, '52.0.0.1', 1234, long],
      ['10.0.0.2', long, 999, '52.0.0.2', 4321, ''],
    ])
    .build();
  const r = decodeAll(dec, [pkt]);
  assert.deepEqual(
    r.map((x) => [x.src, x.dst, x.bytes]),
    [
      ['10.0.0.1', '52.0.0.1', 1234],
      ['10.0.0.2', '52.0.0.2', 4321],
    ],
  );

  const d = domain(dec, 10, 0);
  const t2 = new PacketBuilder(10, { domain: 0, exportSecs: T0, sequence: 2 }).template(801, V4_FIELDS.slice(0, 4)).build();
  decodeAll(dec, [t2]);
  assert.deepEqual([...d.templates.keys()].sort(), [800, 801]);
  decodeAll(dec, [new PacketBuilder(10, { domain: 0, exportSecs: T0, sequence: 2 }).withdraw(801).withdraw(999).build()]);
  assert.deepEqual([...d.templates.keys()], [800]);
  decodeAll(dec, [new PacketBuilder(10, { domain: 0, exportSecs: T0, sequence: 2 }).withdraw(2).build()]);
  assert.equal(d.templates.size, 0);
  assert.equal(d.counters.templatesWithdrawn, 2);
  // Data for a withdrawn template is now "missing template".
  const stale = decodeAll(dec, [
    new PacketBuilder(10, { domain: 0, exportSecs: T0, sequence: 2 }).data(801, [['10.0.0.1', '52.0.0.1', 1, 2]], V4_FIELDS.slice(0, 4)).build(),
  ]);
  assert.equal(stale.length, 0);
  assert.equal(d.counters.missingTemplateSets, 1);
});

test('templates are keyed by exporter and observation domain: same id, different layouts', () => {
  const dec = new FlowDecoder();
  const a = new PacketBuilder(10, { domain: 1, exportSecs: T0, sequence: 0 }).template(256, V4_FIELDS.slice(0, 2)).build();
  const b = new PacketBuilder(10, { domain: 2, exportSecs: T0, sequence: 0 }).template(256, V4_FIELDS.slice(0, 4)).build();
  decodeAll(dec, [a, b]);
  decodeAll(dec, [new PacketBuilder(10, { domain: 1, exportSecs: T0, sequence: 0 }).template(256, [V4_FIELDS[1]!, V4_FIELDS[0]!]).build()], '192.0.2.99');
  const ra = decodeAll(dec, [
    new PacketBuilder(10, { domain: 1, exportSecs: T0, sequence: 0 }).data(256, [['10.0.0.1', '52.0.0.1']], V4_FIELDS.slice(0, 2)).build(),
  ]);
  const rb = decodeAll(dec, [
    new PacketBuilder(10, { domain: 2, exportSecs: T0, sequence: 0 }).data(256, [['10.0.0.2', '52.0.0.2', 7, 8]], V4_FIELDS.slice(0, 4)).build(),
  ]);
  const rc = decodeAll(
    dec,
    [new PacketBuilder(10, { domain: 1, exportSecs: T0, sequence: 0 }).data(256, [['10.0.0.3', '52.0.0.3']], V4_FIELDS.slice(0, 2)).build()],
    '192.0.2.99',
  );
  assert.deepEqual([ra[0]!.src, ra[0]!.srcPort], ['10.0.0.1', 0]);
  assert.deepEqual([rb[0]!.src, rb[0]!.srcPort, rb[0]!.dstPort], ['10.0.0.2', 7, 8]);
  assert.deepEqual([rc[0]!.src, rc[0]!.dst], ['52.0.0.3', '10.0.0.3'], 'the other exporter swapped the fields');
});

test('one corrupted sequence number is one reset, never billions lost; a real restart continues from the new number', () => {
  const dec = new FlowDecoder();
  const mk = (seq: number, n = 2) => {
    const rows = Array.from({ length: n }, () => ['10.0.0.1', '52.0.0.1']);
    return new PacketBuilder(10, { domain: 0, exportSecs: T0, sequence: seq }).template(256, V4_FIELDS.slice(0, 2)).data(256, rows).build();
  };
  // 300 packets of 2 records; packet 150 carries a corrupted number far ahead.
  const packets = Array.from({ length: 300 }, (_, i) => mk(i === 150 ? 4_100_000_000 : i * 2));
  decodeAll(dec, packets);
  const d = domain(dec, 10, 0);
  assert.equal(d.counters.lost, 0);
  assert.equal(d.counters.sequenceGaps, 0);
  assert.equal(d.counters.sequenceResets, 1);

  // The same for v9 (counts packets), with a real gap after the corrupted one.
  const v9 = (seq: number) => new PacketBuilder(9, { domain: 5, exportSecs: T0, sequence: seq, uptimeMs: 0 }).template(256, V4_FIELDS.slice(0, 2)).build();
  decodeAll(dec, [v9(10), v9(11), v9(2_000_000_000), v9(15), v9(16)]);
  const d9 = domain(dec, 9, 5);
  assert.equal(d9.counters.sequenceResets, 1);
  assert.equal(d9.counters.lost, 2, 'packets 13 and 14 are lost');
  assert.equal(d9.counters.sequenceGaps, 1);

  // A genuine jump (exporter restarted elsewhere in its number space): one reset, then counting from there.
  decodeAll(dec, [v9(3_000_000_000), v9(3_000_000_001), v9(3_000_000_003)]);
  assert.equal(d9.counters.sequenceResets, 2);
  assert.equal(d9.counters.lost, 3, 'one more lost after the restart');
});

test('an RFC exporter that loses a message whose size fits the other reading is not switched to post-increment', () => {
  const dec = new FlowDecoder();
  const mk = (seq: number, n: number) => {
    const rows = Array.from({ length: n }, () => ['10.0.0.1', '52.0.0.1']);
    return new PacketBuilder(10, { domain: 0, exportSecs: T0, sequence: seq }).template(256, V4_FIELDS.slice(0, 2)).data(256, rows).build();
  };
  // Record counts 10, [a lost message of 5], 15, 3, 7, 4, 9: numbered before their records (RFC 7011).
  const sizes = [10, 5, 15, 3, 7, 4, 9];
  const packets: Buffer[] = [];
  let seq = 1000;
  sizes.forEach((n, i) => {
    if (i !== 1) packets.push(mk(seq, n));
    seq += n;
  });
  decodeAll(dec, packets);
  const d = domain(dec, 10, 0);
  assert.equal(d.counters.lost, 5);
  assert.equal(d.counters.sequenceGaps, 1);
  assert.equal(d.counters.reordered, 0);
  assert.equal(d.counters.sequenceResets, 0);
});

test('NetFlow v5 sequence state is saved and restored like the templates: a gap across a restart counts', () => {
  const v5 = (seq: number) =>
    buildV5({ uptimeMs: 5000, exportSecs: T0, sequence: seq }, [
      { src: '10.0.0.1', dst: '52.0.0.1', packets: 1, bytes: 60, first: 1000, last: 2000, srcPort: 1, dstPort: 443, proto: 6 },
    ]);
  const first = new FlowDecoder();
  decodeAll(first, [v5(0), v5(1), v5(2)]);
  const snap = first.registry.snapshot();
  assert.equal(snap.domains.length, 1, 'a v5 domain (no templates) is in the snapshot for its sequence');
  const second = new FlowDecoder();
  second.registry.restore(JSON.parse(JSON.stringify(snap)), (t) => common.parseAddress(t));
  decodeAll(second, [v5(10)]);
  const d = domain(second, 5, 0);
  assert.equal(d.counters.lost, 7);
  assert.equal(d.counters.sequenceResets, 0);
});

test('IPFIX sequence numbers count data records; v9 counts packets; reordering and restarts', () => {
  const dec = new FlowDecoder();
  const mk = (seq: number, n: number) => {
    const rows = Array.from({ length: n }, () => ['10.0.0.1', '52.0.0.1']);
    return new PacketBuilder(10, { domain: 0, exportSecs: T0, sequence: seq }).template(256, V4_FIELDS.slice(0, 2)).data(256, rows).build();
  };
  decodeAll(dec, [mk(0, 3), mk(3, 2), mk(9, 1) /* 4 lost */, mk(10, 1)]);
  const d = domain(dec, 10, 0);
  assert.equal(d.counters.sequenceGaps, 1);
  assert.equal(d.counters.lost, 4);

  const v9 = (seq: number) => new PacketBuilder(9, { domain: 4, exportSecs: T0, sequence: seq, uptimeMs: 0 }).template(256, V4_FIELDS.slice(0, 2)).build();
  decodeAll(dec, [v9(50_010), v9(50_011), v9(50_014), v9(50_013) /* late */, v9(50_015), v9(0) /* exporter restart */, v9(1)]);
  const d9 = domain(dec, 9, 4);
  assert.equal(d9.counters.lost, 2);
  assert.equal(d9.counters.sequenceGaps, 1);
  assert.equal(d9.counters.reordered, 1);
  assert.equal(d9.counters.sequenceResets, 1);
});

test('data before its template is held and decoded when the template arrives; counted either way', () => {
  const dec = new FlowDecoder({ limits: { holdMs: 10_000 } });
  const data = new PacketBuilder(9, { domain: 0, exportSecs: T0, sequence: 0, uptimeMs: 50_000 })
    .data(256, [['10.0.0.1', '52.0.0.1', 1, 2, 6, 0, 3, 300, 1, 2, 49_000, 49_500]], V4_FIELDS)
    .build();
  const tmpl = new PacketBuilder(9, { domain: 0, exportSecs: T0 + 5, sequence: 1, uptimeMs: 55_000 }).template(256, V4_FIELDS).build();
  const w = new BatchWriter();
  dec.decode(data, EXP, T0 * 1000, w);
  assert.equal(w.count, 0);
  dec.decode(tmpl, EXP, T0 * 1000 + 5000, w);
  const r = [...records(openBatch(w.finish()))];
  assert.equal(r.length, 1);
  assert.equal(r[0]!.start, T0 * 1000 - 1000, 'decoded with the time context of its own packet');
  const d = domain(dec, 9, 0);
  assert.equal(d.counters.missingTemplateSets, 1);
  assert.equal(d.counters.heldDecodedSets, 1);

  // A set whose template never comes expires and is counted as dropped.
  const orphan = new PacketBuilder(9, { domain: 0, exportSecs: T0, sequence: 2, uptimeMs: 0 })
    .data(999, [['10.0.0.1', '52.0.0.1']], V4_FIELDS.slice(0, 2))
    .build();
  dec.decode(orphan, EXP, T0 * 1000, w);
  dec.decode(new PacketBuilder(9, { domain: 0, exportSecs: T0, sequence: 3, uptimeMs: 0 }).build(), EXP, T0 * 1000 + 20_000, w);
  assert.equal(d.counters.heldDroppedSets, 1);
  assert.equal(d.heldSets, 0);
});

test('template snapshot restores decoding after a restart, without the exporter resending templates', () => {
  const dec = new FlowDecoder();
  const first = new PacketBuilder(10, { domain: 5, exportSecs: T0, sequence: 0 })
    .optionsTemplate(
      500,
      [{ id: IE.selectorId, length: 8 }],
      [
        { id: IE.samplingPacketInterval, length: 4 },
        { id: IE.samplingPacketSpace, length: 4 },
      ],
    )
    .data(500, [[1, 1, 999]])
    .template(600, V4_FIELDS.slice(0, 8))
    .build();
  decodeAll(dec, [first]);
  const snap = JSON.parse(JSON.stringify(dec.registry.snapshot()));
  const restarted = new FlowDecoder();
  const { parseAddress } = await_import_common();
  assert.equal(restarted.registry.restore(snap, parseAddress), 2);
  const r = decodeAll(restarted, [
    new PacketBuilder(10, { domain: 5, exportSecs: T0, sequence: 1 }).data(600, [['10.0.0.1', '52.0.0.1', 1, 2, 6, 0, 5, 500]], V4_FIELDS.slice(0, 8)).build(),
  ]);
  assert.equal(r.length, 1);
  assert.equal(r[0]!.samplingRate, 1000);
  assert.equal(r[0]!.packets, 5);
});

import * as common from '@haystack/common';
function await_import_common() {
  return common;
}

test('IPFIX exporters that number messages after their own records (softflowd) show no phantom gaps, real gaps still count', () => {
  const dec = new FlowDecoder();
  let total = 0;
  const mk = (n: number, skip = 0) => {
    total += n + skip;
    const rows = Array.from({ length: n }, () => ['10.0.0.1', '52.0.0.1']);
    return new PacketBuilder(10, { domain: 9, exportSecs: T0, sequence: total }).template(256, V4_FIELDS.slice(0, 2)).data(256, rows).build();
  };
  decodeAll(dec, [mk(3), mk(5), mk(2), mk(4), mk(1, 6), mk(2)]);
  const d = domain(dec, 10, 9);
  assert.equal(d.postIncrement, true);
  assert.equal(d.counters.sequenceGaps, 1);
  assert.equal(d.counters.lost, 6);
  assert.equal(d.counters.reordered, 0);
});
