/**
 * Deterministic fuzzer for the flow decoders (NetFlow v5, v9, IPFIX).
 *
 *   node packages/decoders/dist/fuzz/fuzz.js --seed N --iterations M [--corpus FILE.pcap ...] [--max-heap-mb MB] [--strict] [--json]
 *
 * A corpus of valid datagrams (built here with PacketBuilder / buildV5, plus the UDP payloads
 * of any pcap given with --corpus, e.g. softflowd or pmacctd captures) is mutated: bit flips,
 * interesting byte/u16/u32 values, truncation, junk appended, splices of two packets, and
 * structure-aware corruption of set lengths, template field counts, field specs, template ids
 * and headers. Every mutant goes through ONE long-lived FlowDecoder, as in a real collector, so
 * template state evolves (and gets poisoned) across iterations; its BatchWriter is finished and
 * the batch re-opened (CRC checked) periodically.
 *
 * Everything is driven by a seeded PRNG (mulberry32) and a simulated clock: the same seed,
 * iteration count and corpus give the same run, so a failure is reproduced by re-running with
 * the printed seed (decoder state at iteration i depends on all packets before it).
 *
 * Failures (exit code 1): a throw out of decode(), decoderErrors > 0, a return value that
 * disagrees with the records written, a record stamped with the wrong version, template id or
 * exporter, an unreadable batch, or heapUsed after the run above --max-heap-mb. Records with
 * impossible contents (non-finite numbers: a read past the end of the datagram) are counted as
 * anomalies; they fail the run only with --strict.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseAddress, seededRandom } from '@haystack/common';
import { BatchWriter, openBatch, F, HEADER_SIZE, RECORD_SIZE, PROTOCOL } from '@haystack/flow-core';
import {
  PacketBuilder,
  buildV5,
  zeroCounters,
  IE,
  VARLEN,
  DEFAULT_LIMITS,
  type DomainCounters,
  type FieldSpec,
  type FieldValue,
  type RegistryLimits,
  type V5Record,
  buildSflowDatagram,
  buildFrame,
} from '../index.js';
import { readUdpSync } from '@haystack/pcap';
import { FlowDecoder, type ExporterCounters } from '../decoder.js';

// ---- PRNG ------------------------------------------------------------------------------

/** The project's seeded PRNG (mulberry32, common/random.ts) with the helpers mutations need; never Math.random. */
export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = seededRandom(seed >>> 0);
  }
  u32(): number {
    return this.next() * 4294967296; // exact: the generator's u32 divided by 2^32
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
}

// ---- corpus ----------------------------------------------------------------------------

export interface CorpusEntry {
  packet: Buffer;
  /** Exporter address the packet is "received" from (templates are per exporter). */
  exporter: string;
  origin: string;
}

const T0 = 1_700_000_000;

const V4_UPTIME: FieldSpec[] = [
  { id: IE.sourceIPv4Address, length: 4 },
  { id: IE.destinationIPv4Address, length: 4 },
  { id: IE.sourceTransportPort, length: 2 },
  { id: IE.destinationTransportPort, length: 2 },
  { id: IE.protocolIdentifier, length: 1 },
  { id: IE.tcpControlBits, length: 1 },
  { id: IE.packetDeltaCount, length: 4 },
  { id: IE.octetDeltaCount, length: 4 },
  { id: IE.ingressInterface, length: 2 },
  { id: IE.egressInterface, length: 2 },
  { id: IE.flowStartSysUpTime, length: 4 },
  { id: IE.flowEndSysUpTime, length: 4 },
];
const V6_UPTIME: FieldSpec[] = [
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

/** Valid packets covering what the decoders know: templates, options with sampling, varlen, enterprise, v4/v6, timestamp forms. */
export function builtinCorpus(): CorpusEntry[] {
  const out: CorpusEntry[] = [];
  const add = (packet: Buffer, exporter: string, origin: string) => out.push({ packet, exporter, origin });
  const v4 = (i: number) => `10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`;
  const v6 = (i: number) => `2001:db8:${(i & 0xffff).toString(16)}::${((i * 13) & 0xffff).toString(16)}`;
  const rows4 = (n: number, k: number): FieldValue[][] =>
    Array.from({ length: n }, (_, j) => {
      const i = k * 100 + j;
      return [v4(i), `52.${i & 255}.1.2`, 1024 + i, j % 2 ? 443 : 8883, j % 3 ? 6 : 17, 0x1b, 1 + j, 60 + 40 * j, 3, 7, 90_000 + j, 99_000 + j];
    });
  const rows6 = (n: number, k: number): FieldValue[][] =>
    Array.from({ length: n }, (_, j) => [v6(k * 100 + j), '2a05:d018::1', 5353, 443, 17, 2, 200, 95_000, 99_500, j & 1]);

  // NetFlow v9, softflowd style: exporter-wide sampling in an options record, IPv4 + IPv6.
  const e1 = '192.0.2.1';
  const v9a = (seq: number) => new PacketBuilder(9, { domain: 0, exportSecs: T0 + seq, sequence: seq, uptimeMs: 100_000 + seq * 1000 });
  add(
    v9a(0)
      .optionsTemplate(
        300,
        [{ id: 1, length: 4 }],
        [
          { id: IE.samplingInterval, length: 4 },
          { id: IE.samplingAlgorithm, length: 1 },
        ],
      )
      .data(300, [[0, 100, 2]])
      .template(256, V4_UPTIME)
      .template(257, V6_UPTIME)
      .data(256, rows4(10, 0))
      .data(257, rows6(4, 0))
      .build(),
    e1,
    'v9 options+templates+data',
  );
  add(v9a(1).data(256, rows4(24, 1), V4_UPTIME).build(), e1, 'v9 data 256');
  add(v9a(2).data(257, rows6(8, 2), V6_UPTIME).data(256, rows4(5, 2), V4_UPTIME).build(), e1, 'v9 data 257+256');
  const wide: FieldSpec[] = [
    { id: IE.ipVersion, length: 1 },
    { id: IE.sourceIPv4Address, length: 4 },
    { id: IE.destinationIPv4Address, length: 4 },
    { id: IE.sourceIPv6Address, length: 16 },
    { id: IE.destinationIPv6Address, length: 16 },
    { id: IE.tcpControlBits, length: 2 },
    { id: IE.ingressInterface, length: 4 },
    { id: IE.egressInterface, length: 4 },
    { id: IE.octetTotalCount, length: 8 },
    { id: IE.packetTotalCount, length: 8 },
    { id: IE.flowDirection, length: 1 },
    { id: 200, length: 3 }, // unknown to the decoder: skipped by length
    { id: IE.flowStartSysUpTime, length: 4 },
    { id: IE.flowEndSysUpTime, length: 4 },
  ];
  add(
    v9a(3)
      .template(258, wide)
      .data(258, [
        [4, '10.1.1.1', '52.1.1.1', '::', '::', 0x12, 100000, 200000, 2n ** 40n, 5, 0, 7, 99_000, 99_900],
        [6, '0.0.0.0', '0.0.0.0', '2001:db8::5', '2a05:d018::5', 0x02, 1, 2, 999, 1, 1, 0, 98_000, 99_000],
      ])
      .build(),
    e1,
    'v9 mixed-family template',
  );

  // NetFlow v9, pmacct style: samplers 48/49/50 announced in options, named by data records.
  const e2 = '192.0.2.2';
  const withSampler: FieldSpec[] = [...V4_UPTIME, { id: IE.samplerId, length: 1 }];
  const v9b = (seq: number) => new PacketBuilder(9, { domain: 5, exportSecs: T0 + seq, sequence: seq, uptimeMs: 4_294_960_000 + seq });
  add(
    v9b(0)
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
        [0, 1, 2, 64],
        [0, 2, 2, 4096],
      ])
      .template(400, withSampler)
      .data(
        400,
        rows4(6, 3).map((r, j) => [...r, 1 + (j % 3)]),
      )
      .build(),
    e2,
    'v9 samplers',
  );
  add(
    v9b(1)
      .data(
        400,
        rows4(20, 4).map((r, j) => [...r, 1 + (j % 2)]),
        withSampler,
      )
      .build(),
    e2,
    'v9 data 400',
  );

  // IPFIX: PSAMP selectors, absolute timestamps, v6, sysUpTime anchored by systemInitTime, withdrawals.
  const e3 = '2001:db8::2';
  const ipa = (seq: number, pad = false) => new PacketBuilder(10, { domain: 1, exportSecs: T0 + seq, sequence: seq * 10 }, pad);
  const f600: FieldSpec[] = [
    { id: IE.sourceIPv4Address, length: 4 },
    { id: IE.destinationIPv4Address, length: 4 },
    { id: IE.sourceTransportPort, length: 2 },
    { id: IE.destinationTransportPort, length: 2 },
    { id: IE.protocolIdentifier, length: 1 },
    { id: IE.selectorId, length: 8 },
    { id: IE.flowStartMilliseconds, length: 8 },
    { id: IE.flowEndMilliseconds, length: 8 },
    { id: IE.octetDeltaCount, length: 8 },
    { id: IE.packetDeltaCount, length: 8 },
  ];
  const rows600 = (n: number, k: number): FieldValue[][] =>
    Array.from({ length: n }, (_, j) => [v4(k * 50 + j), '198.51.100.9', 40000 + j, 53, 17, 1 + (j % 2), T0 * 1000 - 5000, T0 * 1000 - 100, 1000 + j, 3]);
  const f601: FieldSpec[] = [
    { id: IE.sourceIPv6Address, length: 16 },
    { id: IE.destinationIPv6Address, length: 16 },
    { id: IE.udpSourcePort, length: 2 },
    { id: IE.udpDestinationPort, length: 2 },
    { id: IE.flowStartSeconds, length: 4 },
    { id: IE.flowEndSeconds, length: 4 },
    { id: IE.postOctetDeltaCount, length: 4 },
  ];
  const rows601 = (n: number, k: number): FieldValue[][] =>
    Array.from({ length: n }, (_, j) => [v6(k * 50 + j), '2a00:1450::1', 50000 + j, 443, T0 - 60, T0 - 1, 1500 * j]);
  add(
    ipa(0)
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
        [2, 1, 1, 1023],
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
      .template(600, f600)
      .data(600, rows600(8, 0))
      .build(),
    e3,
    'ipfix psamp+template+data',
  );
  add(ipa(1).template(601, f601).data(601, rows601(6, 1)).build(), e3, 'ipfix v6 seconds');
  const f602: FieldSpec[] = [
    { id: IE.sourceIPv4Address, length: 4 },
    { id: IE.destinationIPv4Address, length: 4 },
    { id: IE.flowStartSysUpTime, length: 4 },
    { id: IE.flowEndSysUpTime, length: 4 },
  ];
  const init = T0 * 1000 - 3_600_000;
  add(
    ipa(2)
      .optionsTemplate(502, [{ id: IE.observationDomainId, length: 4 }], [{ id: IE.systemInitTimeMilliseconds, length: 8 }])
      .data(502, [[1, init]])
      .template(602, f602)
      .data(
        602,
        Array.from({ length: 5 }, (_, j) => [v4(j), '52.9.9.9', 3_500_000 + j, 3_599_000 + j]),
      )
      .build(),
    e3,
    'ipfix systemInitTime + sysUpTime',
  );
  add(
    ipa(3)
      .data(600, rows600(12, 3), f600)
      .data(601, rows601(3, 3), f601)
      .data(602, [[v4(9), '52.9.9.9', 1, 2]], f602)
      .build(),
    e3,
    'ipfix data only',
  );
  const ntp = (ms: number) => (BigInt(Math.floor(ms / 1000) + 2208988800) << 32n) | BigInt(Math.round(((ms % 1000) / 1000) * 2 ** 32));
  const f603: FieldSpec[] = [
    { id: IE.sourceIPv4Address, length: 4 },
    { id: IE.destinationIPv4Address, length: 4 },
    { id: IE.flowStartMicroseconds, length: 8 },
    { id: IE.flowEndNanoseconds, length: 8 },
  ];
  const f604: FieldSpec[] = [
    { id: IE.sourceIPv4Address, length: 4 },
    { id: IE.destinationIPv4Address, length: 4 },
    { id: IE.flowStartDeltaMicroseconds, length: 4 },
    { id: IE.flowEndDeltaMicroseconds, length: 4 },
    { id: IE.tcpSourcePort, length: 2 },
    { id: IE.tcpDestinationPort, length: 2 },
  ];
  add(
    ipa(4)
      .template(603, f603)
      .data(603, [[v4(1), '52.0.0.3', ntp(T0 * 1000 - 2500), ntp(T0 * 1000 - 500)]])
      .template(604, f604)
      .data(604, [[v4(2), '52.0.0.4', 2_000_000, 10_000, 51000, 443]])
      .build(),
    e3,
    'ipfix NTP and delta times',
  );
  // Withdraw one template and all options templates, then redefine with another layout.
  add(
    ipa(5)
      .withdraw(603)
      .withdraw(3, true)
      .template(603, f603.slice(0, 2))
      .data(603, [[v4(3), '52.0.0.3']])
      .build(),
    e3,
    'ipfix withdrawals + redefinition',
  );

  // IPFIX with variable-length and enterprise elements, padded sets, a both-families template.
  const e4 = '192.0.2.4';
  const ipb = (seq: number) => new PacketBuilder(10, { domain: 9, exportSecs: T0 + seq, sequence: seq }, true);
  const f800: FieldSpec[] = [
    { id: IE.sourceIPv4Address, length: 4 },
    { id: 82, length: VARLEN }, // interfaceName
    { id: 1, length: 4, enterprise: 29305 },
    { id: IE.destinationIPv4Address, length: 4 },
    { id: IE.octetDeltaCount, length: 4 },
    { id: 5, length: VARLEN, enterprise: 9 },
    { id: IE.protocolIdentifier, length: 1 },
  ];
  const rows800 = (n: number, k: number): FieldValue[][] =>
    Array.from({ length: n }, (_, j) => [v4(k * 40 + j), j % 3 === 0 ? 'x'.repeat(260 + j) : `eth${j}`, 7, '52.8.8.8', 100 * j, j % 2 ? '' : 'vendor', 6]);
  add(ipb(0).template(800, f800).data(800, rows800(4, 0)).build(), e4, 'ipfix varlen+enterprise');
  add(ipb(1).data(800, rows800(3, 1), f800).build(), e4, 'ipfix varlen data only');
  // Counters after two variable-length fields: a read past the end shows up as a non-finite number.
  const f805: FieldSpec[] = [
    { id: 82, length: VARLEN },
    { id: IE.sourceIPv4Address, length: 4 },
    { id: IE.destinationIPv4Address, length: 4 },
    { id: 83, length: VARLEN },
    { id: IE.octetDeltaCount, length: 8 },
    { id: IE.packetDeltaCount, length: 4 },
    { id: IE.flowEndMilliseconds, length: 8 },
  ];
  const rows805 = (n: number, k: number): FieldValue[][] =>
    Array.from({ length: n }, (_, j) => [j % 2 ? 'xe-1/0/0' : '', v4(k * 40 + j), '52.7.7.7', 'a'.repeat(j), 1000 + j, 1 + j, T0 * 1000 - j]);
  add(ipb(3).template(805, f805).data(805, rows805(6, 3)).build(), e4, 'ipfix two varlen then counters');
  add(ipb(4).data(805, rows805(4, 4), f805).build(), e4, 'ipfix two varlen data only');
  const both: FieldSpec[] = [
    { id: IE.sourceIPv4Address, length: 4 },
    { id: IE.destinationIPv4Address, length: 4 },
    { id: IE.sourceIPv6Address, length: 16 },
    { id: IE.destinationIPv6Address, length: 16 },
    { id: IE.ingressInterface, length: 4 },
  ];
  add(
    ipb(2)
      .optionsTemplate(
        801,
        [{ id: IE.ingressInterface, length: 4 }],
        [
          { id: 82, length: VARLEN },
          { id: IE.samplingInterval, length: 4 },
        ],
      )
      .data(801, [[3, 'ge-0/0/3', 512]])
      .template(802, both)
      .data(802, [
        ['10.0.0.1', '52.0.0.1', '::', '::', 3],
        ['0.0.0.0', '0.0.0.0', '2001:db8::9', '2a05:d018::9', 3],
      ])
      .build(),
    e4,
    'ipfix varlen options + both families',
  );

  // NetFlow v5.
  const e5 = '198.51.100.3';
  const v5recs = (n: number, k: number): V5Record[] =>
    Array.from({ length: n }, (_, j) => ({
      src: v4(k * 30 + j),
      dst: '203.0.113.5',
      packets: 1 + j,
      bytes: 64 * (1 + j),
      first: 50_000 + j,
      last: 59_000 + j,
      srcPort: 1024 + j,
      dstPort: 80,
      proto: 6,
      tcpFlags: 0x12,
      inIf: 1,
      outIf: 2,
    }));
  add(
    buildV5({ uptimeMs: 60_000, exportSecs: T0, sequence: 0, engineType: 0, engineId: 1, samplingInterval: 1000, samplingMode: 1 }, v5recs(30, 0)),
    e5,
    'v5 30 records',
  );
  add(buildV5({ uptimeMs: 61_000, exportSecs: T0 + 1, sequence: 30, engineType: 0, engineId: 1 }, v5recs(5, 1)), e5, 'v5 5 records');
  add(buildV5({ uptimeMs: 62_000, exportSecs: T0 + 2, sequence: 7, engineType: 1, engineId: 3, samplingInterval: 64 }, v5recs(1, 2)), e5, 'v5 1 record');

  // sFlow v5: every sample and record type we read, from a switch agent (and one over IPv6).
  const hdr = (j: number) => ({
    kind: 'header' as const,
    frameLength: 1500,
    header: buildFrame({
      vlans: j % 3 ? [10] : [10, 20],
      mpls: j % 4 === 1 ? [16] : undefined,
      src: j % 2 ? v4(j) : v6(j),
      dst: j % 2 ? '52.1.1.1' : '2a05:d018::1',
      proto: j % 3 ? 6 : 17,
      srcPort: 1024 + j,
      dstPort: 443,
      tcpFlags: 0x18,
      ipv6Ext: j % 5 === 0 ? [0, 60] : undefined,
    }),
  });
  for (let k = 0; k < 3; k++) {
    add(
      buildSflowDatagram({
        agent: k === 2 ? '2001:db8:5f::1' : '192.0.2.50',
        subAgent: k,
        sequence: 1 + k,
        samples: [
          { kind: 'flow', sequence: 1 + k, sourceIndex: 3, rate: 1000, records: [hdr(k), { kind: 'switch', srcVlan: 10, dstVlan: 10 }] },
          { kind: 'flow', expanded: true, sequence: 1 + k, sourceIndex: 4, rate: 10_000, input: 4, output: 5, records: [hdr(k + 1)] },
          {
            kind: 'flow',
            sequence: 2 + k,
            sourceIndex: 3,
            rate: 1000,
            records: [
              { kind: 'ethernet', length: 700, srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', type: 0x0800 },
              { kind: 'ipv4', length: 686, proto: 6, src: v4(k), dst: '52.2.2.2', srcPort: 5000, dstPort: 8883 },
              { kind: 'router', nextHop: '192.0.2.1', srcMask: 24, dstMask: 8 },
              { kind: 'gateway', nextHop: '192.0.2.1', as: 64500, srcAs: 64501, srcPeerAs: 64502, asPath: [[64510, 64511]] },
            ],
          },
          {
            kind: 'flow',
            sequence: 3 + k,
            sourceIndex: 3,
            rate: 1000,
            records: [{ kind: 'ipv6', length: 100, proto: 17, src: v6(k), dst: '2a05:d018::2', srcPort: 1, dstPort: 53 }],
          },
          { kind: 'counters', sequence: 1 + k, sourceIndex: 3, ifIndex: 3, inOctets: 1e9 },
        ],
      }),
      k === 2 ? '2001:db8:5f::1' : '192.0.2.50',
      `sflow datagram ${k}`,
    );
  }
  return out;
}

/** UDP payloads of a pcap/pcapng capture that look like NetFlow v5/v9 or IPFIX. */
export function pcapCorpus(file: string): CorpusEntry[] {
  const out: CorpusEntry[] = [];
  for (const d of readUdpSync(readFileSync(file))) {
    if (d.payload.length < 2) continue;
    const v = d.payload.readUInt16BE(0);
    const sflow = v === 0 && d.payload.length >= 4 && d.payload.readUInt32BE(0) === 5;
    if (v !== 5 && v !== 9 && v !== 10 && !sflow) continue;
    // The payload is a view into the file buffer: copy, mutants must not alias it.
    out.push({ packet: Buffer.from(d.payload), exporter: d.src, origin: `${file}#${d.index}` });
  }
  return out;
}

// ---- packet structure (for structure-aware mutations) ----------------------------------

interface SetRef {
  off: number;
  id: number;
  len: number;
}

function headerLen(b: Buffer): number {
  const v = b.length >= 2 ? b.readUInt16BE(0) : 0;
  return v === 9 ? 20 : v === 10 ? 16 : v === 5 ? 24 : 0;
}

/** Sets as framed by their lengths, up to the first one that does not fit. */
function walkSets(b: Buffer): SetRef[] {
  const h = headerLen(b);
  if (h === 0 || h === 24 || b.length < h) return [];
  const out: SetRef[] = [];
  let p = h;
  while (p + 4 <= b.length) {
    const len = b.readUInt16BE(p + 2);
    if (len < 4 || p + len > b.length) break;
    out.push({ off: p, id: b.readUInt16BE(p), len });
    p += len;
  }
  return out;
}

interface TemplateRef {
  /** Offset of the record header (template id). */
  off: number;
  /** Offset of the field count (v9 options: scope length; option length at +2). */
  countOff: number;
  /** IPFIX options scope count, or v9 options option length. */
  extraOff: number;
  fields: number[];
}

/** Template records inside template / options template sets (best effort on valid framing). */
function walkTemplates(b: Buffer, sets: SetRef[]): TemplateRef[] {
  const out: TemplateRef[] = [];
  if (!sets.length) return out;
  const v = b.readUInt16BE(0);
  for (const s of sets) {
    const end = s.off + s.len;
    let q = s.off + 4;
    const opt = v === 9 ? s.id === 1 : s.id === 3;
    const tmpl = v === 9 ? s.id === 0 : s.id === 2;
    if (!opt && !tmpl) continue;
    while (q + (opt ? 6 : 4) <= end && out.length < 64) {
      const ref: TemplateRef = { off: q, countOff: q + 2, extraOff: opt ? q + 4 : -1, fields: [] };
      if (v === 9 && opt) {
        const n = (b.readUInt16BE(q + 2) + b.readUInt16BE(q + 4)) >> 2;
        q += 6;
        for (let i = 0; i < n && q + 4 <= end; i++, q += 4) ref.fields.push(q);
      } else {
        const n = b.readUInt16BE(q + 2);
        q += opt ? 6 : 4;
        for (let i = 0; i < n && q + 4 <= end; i++) {
          ref.fields.push(q);
          q += b[q]! & 0x80 ? 8 : 4;
        }
      }
      out.push(ref);
    }
  }
  return out;
}

// ---- mutations -----------------------------------------------------------------------------

const U8 = [0, 1, 0x7f, 0x80, 0xff, 0xfe, 0x10, 0x40];
const U16 = [0, 1, 2, 3, 4, 5, 6, 8, 0x7f, 0x80, 0xff, 0x100, 0x101, 0xff00, 0x7fff, 0x8000, 0xfffe, 0xffff, 255, 256, 257, 1024, 1025, 1500];
const U32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 0x100, 0x10000];
const TIDS = [0, 1, 2, 3, 4, 255, 256, 257, 258, 300, 400, 500, 600, 601, 800, 0x7fff, 0xffff];
const FIELD_IDS = [
  IE.sourceIPv4Address,
  IE.destinationIPv4Address,
  IE.sourceIPv6Address,
  IE.destinationIPv6Address,
  IE.octetDeltaCount,
  IE.packetDeltaCount,
  IE.samplingInterval,
  IE.samplerId,
  IE.selectorId,
  IE.samplingPacketInterval,
  IE.samplingPacketSpace,
  IE.systemInitTimeMilliseconds,
  IE.flowStartSysUpTime,
  IE.flowEndMilliseconds,
  IE.flowStartMicroseconds,
  IE.flowStartDeltaMicroseconds,
  IE.flowDirection,
  IE.ipVersion,
  IE.tcpControlBits,
  82,
  0,
  0x7fff,
];
const FIELD_LENS = [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 255, 0x7fff, 0xfffe, 0xffff];

export const MUTATORS = [
  'bitflip',
  'byte',
  'u16',
  'u32',
  'truncate',
  'extend',
  'splice',
  'setLength',
  'cutSet',
  'fieldCount',
  'fieldSpec',
  'templateId',
  'header',
  'reorder',
] as const;
export type MutatorName = (typeof MUTATORS)[number];
/** Relative weights: structure-aware mutations are the ones that reach deep code. */
const WEIGHTS: Record<MutatorName, number> = {
  bitflip: 10,
  byte: 8,
  u16: 8,
  u32: 4,
  truncate: 8,
  extend: 5,
  splice: 6,
  setLength: 10,
  cutSet: 6,
  fieldCount: 10,
  fieldSpec: 10,
  templateId: 8,
  header: 6,
  reorder: 7,
};
const WEIGHT_SUM = MUTATORS.reduce((s, m) => s + WEIGHTS[m], 0);

function pickMutator(r: Rng): MutatorName {
  let x = r.int(WEIGHT_SUM);
  for (const m of MUTATORS) {
    x -= WEIGHTS[m];
    if (x < 0) return m;
  }
  return 'bitflip';
}

function u16Value(r: Rng, near: number): number {
  switch (r.int(4)) {
    case 0:
      return r.pick(U16);
    case 1:
      return (near + r.int(9) - 4) & 0xffff;
    case 2:
      return r.int(0x10000);
    default:
      return (near * (r.chance(0.5) ? 2 : 0.5)) & 0xffff;
  }
}

/** Fix the IPFIX message length after a mutation changed the datagram size (else most mutants stop at "truncated"). */
function fixIpfixLength(b: Buffer): void {
  if (b.length >= 4 && b.readUInt16BE(0) === 10) b.writeUInt16BE(Math.min(b.length, 0xffff), 2);
}

function mutate(r: Rng, src: Buffer, other: Buffer, m: MutatorName): Buffer {
  let b = Buffer.from(src);
  const len = b.length;
  switch (m) {
    case 'bitflip': {
      if (!len) return b;
      for (let n = 1 + r.int(8); n > 0; n--) {
        const i = r.int(len);
        b[i]! ^= 1 << r.int(8);
      }
      return b;
    }
    case 'byte': {
      if (!len) return b;
      for (let n = 1 + r.int(4); n > 0; n--) b[r.int(len)] = r.chance(0.8) ? r.pick(U8) : r.int(256);
      return b;
    }
    case 'u16': {
      if (len < 2) return b;
      const at = r.chance(0.7) ? r.int(len >> 1) * 2 : r.int(len - 1);
      b.writeUInt16BE(u16Value(r, r.chance(0.5) ? len : b.readUInt16BE(at)), at);
      return b;
    }
    case 'u32': {
      if (len < 4) return b;
      const at = r.chance(0.7) ? r.int(len >> 2) * 4 : r.int(len - 3);
      b.writeUInt32BE(r.chance(0.7) ? r.pick(U32) : r.u32(), at);
      return b;
    }
    case 'truncate': {
      const sets = walkSets(b);
      let cut: number;
      if (sets.length && r.chance(0.5)) {
        const s = r.pick(sets);
        cut = Math.max(0, Math.min(len - 1, s.off + s.len + r.int(9) - 4));
      } else cut = r.int(len + 1);
      b = b.subarray(0, cut);
      if (r.chance(0.3)) fixIpfixLength(b);
      return b;
    }
    case 'extend': {
      const n = 1 + r.int(r.chance(0.8) ? 16 : 200);
      const junk = Buffer.alloc(n);
      const kind = r.int(4);
      for (let i = 0; i < n; i++) junk[i] = kind === 0 ? 0 : kind === 1 ? 0xff : kind === 2 ? r.int(256) : (src[r.int(Math.max(1, len))] ?? 0);
      b = Buffer.concat([b, junk]);
      if (r.chance(0.6)) fixIpfixLength(b);
      return b;
    }
    case 'splice': {
      const a = walkSets(b);
      const o = walkSets(other);
      if (a.length && o.length && r.chance(0.7)) {
        // Set-level crossover: this packet's header, sets from both (templates of one, data of another...).
        const parts: Buffer[] = [b.subarray(0, headerLen(b))];
        const pool = [...a.map((s) => b.subarray(s.off, s.off + s.len)), ...o.map((s) => other.subarray(s.off, s.off + s.len))];
        for (let n = 1 + r.int(Math.min(8, pool.length + 2)); n > 0; n--) parts.push(r.pick(pool));
        b = Buffer.concat(parts);
        if (b.length > 0xffff) b = b.subarray(0, 0xffff);
      } else {
        b = Buffer.concat([b.subarray(0, r.int(len + 1)), other.subarray(r.int(other.length + 1))]);
      }
      if (r.chance(0.7)) fixIpfixLength(b);
      return b;
    }
    case 'setLength': {
      const sets = walkSets(b);
      if (!sets.length) return mutate(r, src, other, 'u16');
      const s = r.pick(sets);
      const remaining = len - s.off;
      const choices = [0, 1, 2, 3, 4, 5, s.len - 1, s.len + 1, s.len - 4, s.len + 4, remaining, remaining + 1, 0xffff, r.int(0x10000), s.len >> 1];
      b.writeUInt16BE(r.pick(choices) & 0xffff, s.off + 2);
      return b;
    }
    case 'cutSet': {
      // A set cut short but framed correctly (its length and the datagram agree): records end mid-field.
      const sets = walkSets(b);
      if (!sets.length) return mutate(r, src, other, 'truncate');
      const s = r.pick(sets);
      const keep = 4 + r.int(s.len - 3);
      b.writeUInt16BE(keep, s.off + 2);
      b = Buffer.concat([b.subarray(0, s.off + keep), b.subarray(s.off + s.len)]);
      fixIpfixLength(b);
      return b;
    }
    case 'fieldCount': {
      const t = walkTemplates(b, walkSets(b));
      if (!t.length) return mutate(r, src, other, 'setLength');
      const ref = r.pick(t);
      const at = ref.extraOff >= 0 && r.chance(0.4) ? ref.extraOff : ref.countOff;
      const cur = b.readUInt16BE(at);
      const choices = [0, 1, cur - 1, cur + 1, cur + 2, cur * 2, cur >> 1, 0xffff, 0x8000, DEFAULT_LIMITS.maxFieldsPerTemplate + 1, cur + 3, r.int(0x10000)];
      b.writeUInt16BE(r.pick(choices) & 0xffff, at);
      return b;
    }
    case 'fieldSpec': {
      const t = walkTemplates(b, walkSets(b)).filter((x) => x.fields.length);
      if (!t.length) return mutate(r, src, other, 'byte');
      const ref = r.pick(t);
      const at = r.pick(ref.fields);
      switch (r.int(4)) {
        case 0:
          b.writeUInt16BE(r.pick(FIELD_LENS), at + 2);
          break;
        case 1:
          b.writeUInt16BE((b.readUInt16BE(at) & 0x8000) | r.pick(FIELD_IDS), at);
          break;
        case 2:
          b[at]! ^= 0x80; // enterprise bit: shifts every field after it by 4 bytes
          break;
        default: {
          // Swap two field specs (same layout size, different meaning).
          const other2 = r.pick(ref.fields);
          const x = b.readUInt32BE(at);
          b.writeUInt32BE(b.readUInt32BE(other2), at);
          b.writeUInt32BE(x, other2);
        }
      }
      return b;
    }
    case 'templateId': {
      const sets = walkSets(b);
      const t = walkTemplates(b, sets);
      if (t.length && r.chance(0.6)) {
        const ref = r.pick(t);
        b.writeUInt16BE(r.chance(0.7) ? r.pick(TIDS) : 256 + r.int(64), ref.off);
      } else if (sets.length) {
        const s = r.pick(sets);
        b.writeUInt16BE(r.chance(0.7) ? r.pick(TIDS) : 256 + r.int(64), s.off);
      } else return mutate(r, src, other, 'header');
      return b;
    }
    case 'header': {
      if (len < 4) return mutate(r, src, other, 'extend');
      const v = b.readUInt16BE(0);
      switch (r.int(5)) {
        case 0:
          b.writeUInt16BE(r.chance(0.8) ? r.pick([5, 9, 10, 1, 7, 8, 0, 0xffff]) : r.int(0x10000), 0);
          break;
        case 1:
          // v9/v5: record count (untrusted); IPFIX: message length.
          b.writeUInt16BE(u16Value(r, v === 10 ? len : b.readUInt16BE(2)), 2);
          break;
        case 2: {
          // Observation domain / source id / engine: mostly a few neighbours (new domains get created, bounded).
          const at = v === 9 ? 16 : v === 10 ? 12 : 20;
          if (len >= at + 4) b.writeUInt32BE(r.chance(0.9) ? r.int(16) : r.u32(), at);
          break;
        }
        case 3: {
          // Sequence numbers: gaps, reordering, restarts.
          const at = v === 9 ? 12 : v === 10 ? 8 : 16;
          if (len >= at + 4) b.writeUInt32BE(r.chance(0.5) ? (b.readUInt32BE(at) + r.int(2000) - 1000) >>> 0 : r.u32(), at);
          break;
        }
        default: {
          // Times: export seconds / sysUptime / v5 sampling interval.
          if (len >= 12) b.writeUInt32BE(r.chance(0.5) ? r.pick(U32) : r.u32(), 4 + 4 * r.int(2));
        }
      }
      return b;
    }
    case 'reorder': {
      const sets = walkSets(b);
      if (sets.length < 1) return mutate(r, src, other, 'truncate');
      const parts = sets.map((s) => b.subarray(s.off, s.off + s.len));
      const tail = b.subarray(sets[sets.length - 1]!.off + sets[sets.length - 1]!.len);
      switch (r.int(3)) {
        case 0:
          parts.reverse(); // data before its template
          break;
        case 1: {
          // The same set repeated (template churn / duplicate data).
          const i = r.int(parts.length);
          const copies = 1 + r.int(r.chance(0.9) ? 4 : 200);
          for (let n = 0; n < copies; n++) parts.splice(i, 0, parts[i]!);
          break;
        }
        default:
          parts.splice(r.int(parts.length), 1);
      }
      b = Buffer.concat([b.subarray(0, headerLen(b)), ...parts, tail]);
      if (b.length > 0xffff) b = b.subarray(0, 0xffff);
      if (r.chance(0.8)) fixIpfixLength(b);
      return b;
    }
  }
}

// ---- the run -------------------------------------------------------------------------------

export interface FuzzOptions {
  seed: number;
  iterations: number;
  /** pcap/pcapng files whose UDP payloads join the built-in corpus. */
  corpus?: readonly string[];
  /** Registry limits for the long-lived decoder (defaults: the collector's). */
  limits?: Partial<RegistryLimits>;
  /** Finish (and re-open) the batch every this many packets. */
  finishEvery?: number;
  /** Fail when heapUsed after the run exceeds this (MB). */
  maxHeapMb?: number;
  /** Treat record anomalies (non-finite numbers, impossible bytes) as failures. */
  strict?: boolean;
  /** Called every `progressEvery` iterations. */
  onProgress?: (iteration: number, report: FuzzReport) => void;
  progressEvery?: number;
}

export interface FuzzFailure {
  iteration: number;
  kind: string;
  message: string;
  exporter: string;
  /** The offending datagram. */
  hex: string;
}

export interface FuzzReport {
  seed: number;
  iterations: number;
  corpusSize: number;
  /** Packets decoded unmutated (they keep template state alive, as real traffic would). */
  pristine: number;
  mutations: Record<MutatorName, number>;
  packetsPerSecond: number;
  elapsedMs: number;
  records: number;
  batches: number;
  /** Per-domain counters summed over the registry. */
  counters: DomainCounters;
  /** Per-exporter counters summed. */
  exporters: ExporterCounters;
  decoderErrors: number;
  refusedDomains: number;
  domains: number;
  exporterEntries: number;
  templates: number;
  maxTemplatesInDomain: number;
  heldSets: number;
  maxHeldInDomain: number;
  /** Records with impossible contents (e.g. non-finite numbers); see `anomalyExamples`. */
  anomalies: number;
  anomalyExamples: FuzzFailure[];
  /**
   * The packet that took longest to decode (a hang shows here; so does a GC pause that happened to land on it):
   * `replayMs` is the same packet timed alone on a fresh decoder, best of 3 (0 until the run ends).
   */
  slowest: { iteration: number; ms: number; bytes: number; hex: string; exporter: string; replayMs: number };
  /** heapStart/heapEnd are measured after a full GC (retained memory); peaks are sampled during the run. */
  memory: { heapStartMb: number; heapEndMb: number; heapGrowthMb: number; peakHeapMb: number; peakRssMb: number; maxHeapMb: number };
  failures: FuzzFailure[];
  failureCount: number;
  ok: boolean;
}

const MB = 1024 * 1024;

/** A full GC before measuring, so "heap after" is what the decoder retains, not garbage not yet collected. */
function collectGarbage(): void {
  try {
    const g = (globalThis as { gc?: () => void }).gc;
    if (g) return g();
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
  } catch {
    // Not available: the figures then include uncollected garbage (an overestimate).
  }
}
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

const EXPORTER_POOL = ['192.0.2.1', '192.0.2.2', '2001:db8::2', '192.0.2.4', '198.51.100.3', '203.0.113.77', '2001:db8:ffff::1', '10.255.0.1'];

export function runFuzz(opts: FuzzOptions): FuzzReport {
  const seed = opts.seed >>> 0;
  const r = new Rng(seed);
  const corpus = builtinCorpus();
  for (const f of opts.corpus ?? []) corpus.push(...pcapCorpus(f));
  const finishEvery = opts.finishEvery ?? 64;
  const maxHeapMb = opts.maxHeapMb ?? 512;
  const failures: FuzzFailure[] = [];
  let failureCount = 0;
  const anomalyExamples: FuzzFailure[] = [];
  let anomalies = 0;
  let faultsReported = 0;
  const mutations = Object.fromEntries(MUTATORS.map((m) => [m, 0])) as Record<MutatorName, number>;

  const dec = new FlowDecoder({
    limits: opts.limits,
    onError: () => {
      faultsReported++;
    },
  });
  const w = new BatchWriter(1024);
  const addrBytes = new Map<string, Uint8Array>();
  for (const e of [...EXPORTER_POOL, ...corpus.map((c) => c.exporter)]) addrBytes.set(e, parseAddress(e));

  // Mutants worth mutating again (they reached a new state once): a small ring, chosen deterministically.
  const ring: CorpusEntry[] = [];
  let ringNext = 0;

  collectGarbage();
  const mem0 = process.memoryUsage();
  let peakHeap = mem0.heapUsed;
  let peakRss = mem0.rss;
  let records = 0;
  let batches = 0;
  let pristine = 0;
  let now = T0 * 1000;
  let slowest = { iteration: -1, ms: 0, bytes: 0, hex: '', exporter: '' };
  let replayMs = 0;
  const started = process.hrtime.bigint();

  const fail = (iteration: number, kind: string, message: string, exporter: string, pkt: Uint8Array) => {
    failureCount++;
    if (failures.length < 20) failures.push({ iteration, kind, message, exporter, hex: Buffer.from(pkt).toString('hex') });
  };
  const anomaly = (iteration: number, message: string, exporter: string, pkt: Uint8Array) => {
    anomalies++;
    if (anomalyExamples.length < 5) anomalyExamples.push({ iteration, kind: 'record-anomaly', message, exporter, hex: Buffer.from(pkt).toString('hex') });
    if (opts.strict) fail(iteration, 'record-anomaly', message, exporter, pkt);
  };

  const report = (iterationsDone: number): FuzzReport => {
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    const counters = zeroCounters();
    let domains = 0;
    let templates = 0;
    let maxTemplatesInDomain = 0;
    let heldSets = 0;
    let maxHeldInDomain = 0;
    for (const d of dec.registry.all()) {
      domains++;
      for (const k of Object.keys(counters) as (keyof DomainCounters)[]) counters[k] += d.counters[k];
      templates += d.templates.size;
      maxTemplatesInDomain = Math.max(maxTemplatesInDomain, d.templates.size);
      heldSets += d.heldSets;
      maxHeldInDomain = Math.max(maxHeldInDomain, d.heldSets);
    }
    const exporters: ExporterCounters = { packets: 0, bytes: 0, malformedPackets: 0, unknownVersion: 0, decoderErrors: 0 };
    for (const c of dec.exporters.values()) for (const k of Object.keys(exporters) as (keyof ExporterCounters)[]) exporters[k] += c[k];
    const mem = process.memoryUsage();
    peakHeap = Math.max(peakHeap, mem.heapUsed);
    peakRss = Math.max(peakRss, mem.rss);
    return {
      seed,
      iterations: iterationsDone,
      corpusSize: corpus.length,
      pristine,
      mutations: { ...mutations },
      packetsPerSecond: Math.round(iterationsDone / (elapsedMs / 1000)),
      elapsedMs: Math.round(elapsedMs),
      records,
      batches,
      counters,
      exporters,
      decoderErrors: exporters.decoderErrors,
      refusedDomains: dec.registry.refusedDomains,
      domains,
      exporterEntries: dec.exporters.size,
      templates,
      maxTemplatesInDomain,
      heldSets,
      maxHeldInDomain,
      anomalies,
      anomalyExamples: [...anomalyExamples],
      slowest: { ...slowest, ms: round(slowest.ms, 3), replayMs: round(replayMs, 3) },
      memory: {
        heapStartMb: round(mem0.heapUsed / MB),
        heapEndMb: round(mem.heapUsed / MB),
        heapGrowthMb: round((mem.heapUsed - mem0.heapUsed) / MB),
        peakHeapMb: round(peakHeap / MB),
        peakRssMb: round(peakRss / MB),
        maxHeapMb,
      },
      failures: [...failures],
      failureCount,
      ok: failureCount === 0,
    };
  };

  const flush = (i: number) => {
    const last = w.count;
    const batch = w.finish(now, i);
    try {
      const view = openBatch(batch);
      if (view.count !== last) throw new Error(`batch holds ${view.count} records, writer had ${last}`);
    } catch (err) {
      fail(i, 'batch', String(err), '', new Uint8Array(0));
    }
    batches++;
  };

  for (let i = 0; i < opts.iterations; i++) {
    // Pick a base: mostly the corpus, sometimes an earlier mutant.
    const entry = ring.length && r.chance(0.1) ? r.pick(ring) : r.pick(corpus);
    let pkt = entry.packet;
    let exporter = entry.exporter;
    if (r.chance(0.1)) pristine++;
    else {
      for (let n = r.chance(0.5) ? 1 : 2 + r.int(3); n > 0; n--) {
        const m = pickMutator(r);
        mutations[m]++;
        pkt = mutate(r, pkt, r.pick(corpus).packet, m);
      }
      if (r.chance(0.03)) exporter = r.pick(EXPORTER_POOL);
      if (r.chance(0.02)) {
        if (ring.length < 256) ring.push({ packet: pkt, exporter, origin: `mutant@${i}` });
        else ring[ringNext++ & 255] = { packet: pkt, exporter, origin: `mutant@${i}` };
      }
    }
    // Simulated arrival time: steady, with the occasional long pause (held sets expire).
    now += r.chance(0.0005) ? 120_000 : 1 + r.int(20);

    const c = dec.counters(dec.exporterAddress(exporter).text);
    const errorsBefore = c.decoderErrors;
    const faultsBefore = faultsReported;
    const mark = w.count;
    const version = pkt.length >= 2 ? (pkt[0]! << 8) | pkt[1]! : -1;
    const t0 = process.hrtime.bigint();
    let n: number;
    try {
      n = dec.decode(pkt, exporter, now, w);
    } catch (err) {
      fail(i, 'throw', (err as Error)?.stack ?? String(err), exporter, pkt);
      w.truncate(mark);
      continue;
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms > slowest.ms) slowest = { iteration: i, ms, bytes: pkt.length, hex: Buffer.from(pkt).toString('hex'), exporter };
    if (c.decoderErrors !== errorsBefore || faultsReported !== faultsBefore) fail(i, 'decoderError', 'decoderErrors counted for this packet', exporter, pkt);
    if (!Number.isInteger(n) || n < 0 || n !== w.count - mark) fail(i, 'return', `decode returned ${n}, wrote ${w.count - mark}`, exporter, pkt);
    records += Math.max(0, w.count - mark);

    // Every record written for this packet: stamped right, numbers possible.
    if (w.count > mark) {
      const u8 = w.buf;
      const dv = w.dv;
      const exp = addrBytes.get(exporter)!;
      for (let k = mark; k < w.count; k++) {
        const o = HEADER_SIZE + k * RECORD_SIZE;
        const ver = u8[o + F.version]!;
        const tid = dv.getUint16(o + F.templateId, true);
        // sFlow: the version is a u32 (first two bytes 0), records carry their own protocol code.
        const sflow = version === 0;
        if (sflow ? ver !== PROTOCOL.sflow5 || tid !== 0 : ver !== version || (ver === 5 ? tid !== 0 : tid < 256)) {
          fail(i, 'record', `record ${k - mark}: version ${ver} template ${tid} from a v${version} packet`, exporter, pkt);
          break;
        }
        let sameExporter = true;
        // sFlow records carry the agent address from the datagram, not the UDP source.
        if (!sflow) for (let j = 0; j < 16; j++) if (u8[o + F.exporter + j] !== exp[j]) sameExporter = false;
        if (!sameExporter) {
          fail(i, 'record', `record ${k - mark}: exporter bytes are not ${exporter}`, exporter, pkt);
          break;
        }
        const start = dv.getFloat64(o + F.start, true);
        const end = dv.getFloat64(o + F.end, true);
        const bytes = dv.getFloat64(o + F.bytes, true);
        const packets = dv.getFloat64(o + F.packets, true);
        const dir = u8[o + F.direction]!;
        if (
          !Number.isFinite(start) ||
          !Number.isFinite(end) ||
          !Number.isFinite(bytes) ||
          !Number.isFinite(packets) ||
          (dir > 1 && dir !== 255) ||
          u8[o + F.side] !== 0 ||
          u8[o + 109] !== 0 ||
          dv.getUint32(o + 132, true) !== 0 ||
          dv.getUint16(o + F.vlan, true) > 4095
        ) {
          anomaly(i, `record ${k - mark} (template ${tid}): start ${start} end ${end} bytes ${bytes} packets ${packets} direction ${dir}`, exporter, pkt);
          break;
        }
      }
    }
    if ((i + 1) % finishEvery === 0) flush(i);
    if ((i & 4095) === 0) {
      const mem = process.memoryUsage();
      if (mem.heapUsed > peakHeap) peakHeap = mem.heapUsed;
      if (mem.rss > peakRss) peakRss = mem.rss;
    }
    if (opts.onProgress && opts.progressEvery && (i + 1) % opts.progressEvery === 0) opts.onProgress(i + 1, report(i + 1));
  }
  if (w.count) flush(opts.iterations);

  // Was the slowest packet slow by itself, or did a GC pause land on it? Time it alone (fresh state, best of 3).
  if (slowest.hex) {
    const pkt = Buffer.from(slowest.hex, 'hex');
    replayMs = Infinity;
    for (let k = 0; k < 3; k++) {
      const fresh = new FlowDecoder({ limits: opts.limits });
      const t0 = process.hrtime.bigint();
      fresh.decode(pkt, slowest.exporter, now, new BatchWriter(16));
      replayMs = Math.min(replayMs, Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }

  collectGarbage();
  const out = report(opts.iterations);
  // Registry bounds: what the limits promise.
  const limits = dec.registry.limits;
  if (out.domains > limits.maxDomains) fail(-1, 'bounds', `${out.domains} domains > maxDomains ${limits.maxDomains}`, '', new Uint8Array(0));
  if (out.maxTemplatesInDomain > limits.maxTemplatesPerDomain)
    fail(-1, 'bounds', `${out.maxTemplatesInDomain} templates in a domain > ${limits.maxTemplatesPerDomain}`, '', new Uint8Array(0));
  if (out.maxHeldInDomain > limits.maxHeldSets)
    fail(-1, 'bounds', `${out.maxHeldInDomain} held sets in a domain > ${limits.maxHeldSets}`, '', new Uint8Array(0));
  if (out.memory.heapEndMb > maxHeapMb) fail(-1, 'memory', `heapUsed ${out.memory.heapEndMb} MB after the run > ${maxHeapMb} MB`, '', new Uint8Array(0));
  out.failures = [...failures];
  out.failureCount = failureCount;
  out.ok = failureCount === 0;
  return out;
}

// ---- CLI -------------------------------------------------------------------------------------

function parseArgs(argv: string[]): FuzzOptions & { json: boolean } {
  const o: FuzzOptions & { json: boolean } = { seed: 1, iterations: 100_000, corpus: [], json: false };
  const corpus: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--seed') o.seed = Number(val());
    else if (a === '--iterations') o.iterations = Number(val());
    else if (a === '--max-heap-mb') o.maxHeapMb = Number(val());
    else if (a === '--finish-every') o.finishEvery = Number(val());
    else if (a === '--max-domains') o.limits = { ...o.limits, maxDomains: Number(val()) };
    else if (a === '--strict') o.strict = true;
    else if (a === '--json') o.json = true;
    else if (a === '--corpus') {
      corpus.push(val());
      while (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) corpus.push(argv[++i]!);
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'usage: fuzz.js --seed N --iterations M [--corpus FILE.pcap ...] [--max-heap-mb MB] [--max-domains N] [--finish-every N] [--strict] [--json]\n',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(o.seed) || !Number.isInteger(o.iterations) || o.iterations < 0) throw new Error('--seed and --iterations take integers');
  o.corpus = corpus;
  return o;
}

function printReport(rep: FuzzReport): void {
  const lines = [
    `seed ${rep.seed}: ${rep.iterations} packets in ${(rep.elapsedMs / 1000).toFixed(1)} s (${rep.packetsPerSecond} packets/s), corpus ${rep.corpusSize}, ${rep.pristine} unmutated`,
    `records decoded ${rep.records} in ${rep.batches} batches; domains ${rep.domains} (refused ${rep.refusedDomains}), exporter entries ${rep.exporterEntries}, templates ${rep.templates} (max ${rep.maxTemplatesInDomain}/domain), held sets ${rep.heldSets} (max ${rep.maxHeldInDomain}/domain)`,
    `exporter counters: ${JSON.stringify(rep.exporters)}`,
    `domain counters: ${JSON.stringify(rep.counters)}`,
    `mutations: ${JSON.stringify(rep.mutations)}`,
    `slowest packet: ${rep.slowest.ms} ms (iteration ${rep.slowest.iteration}, ${rep.slowest.bytes} bytes, exporter ${rep.slowest.exporter}; alone on a fresh decoder: ${rep.slowest.replayMs} ms)` +
      (rep.slowest.replayMs >= 10 ? `\n    packet (slow by itself) ${rep.slowest.hex}` : ''),
    `memory: heap ${rep.memory.heapStartMb} → ${rep.memory.heapEndMb} MB (peak ${rep.memory.peakHeapMb} MB, bound ${rep.memory.maxHeapMb} MB), peak RSS ${rep.memory.peakRssMb} MB`,
    `decoderErrors ${rep.decoderErrors}, record anomalies ${rep.anomalies}, failures ${rep.failureCount}`,
  ];
  for (const a of rep.anomalyExamples)
    lines.push(`  anomaly: seed ${rep.seed} iteration ${a.iteration} exporter ${a.exporter}: ${a.message}\n    packet ${a.hex}`);
  for (const f of rep.failures)
    lines.push(`  FAILURE ${f.kind}: seed ${rep.seed} iteration ${f.iteration} exporter ${f.exporter}: ${f.message}\n    packet ${f.hex}`);
  process.stdout.write(lines.join('\n') + '\n');
}

function main(): void {
  let opts: ReturnType<typeof parseArgs>;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`fuzz: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const rep = runFuzz({
    ...opts,
    progressEvery: 1_000_000,
    onProgress: (i, r) =>
      process.stderr.write(
        `  ${i} packets, ${r.packetsPerSecond}/s, records ${r.records}, heap ${r.memory.heapEndMb} MB, failures ${r.failureCount}, anomalies ${r.anomalies}\n`,
      ),
  });
  if (opts.json) process.stdout.write(JSON.stringify(rep, null, 2) + '\n');
  else printReport(rep);
  process.exitCode = rep.ok ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
