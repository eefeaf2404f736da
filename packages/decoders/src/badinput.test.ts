import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchWriter, openBatch, type FlowRecord, records } from '@haystack/flow-core';
import {
  PacketBuilder,
  buildV5,
  IE,
  VARLEN,
  DEFAULT_LIMITS,
  type FieldSpec,
  type FieldValue,
  type DomainCounters,
  type DomainState,
  type V5Record,
} from './index.js';
import { FlowDecoder, OTHER_EXPORTERS, type FlowDecoderOptions } from './index.js';

/**
 * Hostile and broken input, built by hand: the decoder must never throw or hang, must keep
 * every record it can frame, and its counters must say what it dropped. `decoderErrors`
 * (internal faults caught at the packet boundary) must stay 0 everywhere.
 */

const EXP = '192.0.2.10';
const T0 = 1_700_000_000;
const NOW = T0 * 1000;
/** Generous: these are all single-digit-millisecond cases; a hang fails instead of stalling the suite. */
const LIMIT = { timeout: 30_000 };

const V4: FieldSpec[] = [
  { id: IE.sourceIPv4Address, length: 4 },
  { id: IE.destinationIPv4Address, length: 4 },
  { id: IE.sourceTransportPort, length: 2 },
  { id: IE.destinationTransportPort, length: 2 },
  { id: IE.protocolIdentifier, length: 1 },
  { id: IE.packetDeltaCount, length: 4 },
  { id: IE.octetDeltaCount, length: 4 },
];
const v4row = (i: number): FieldValue[] => [`10.0.${i >> 8}.${i & 255}`, '52.1.2.3', 40000 + i, 443, 6, i + 1, 100 * (i + 1)];

const V6: FieldSpec[] = [
  { id: IE.sourceIPv6Address, length: 16 },
  { id: IE.destinationIPv6Address, length: 16 },
  { id: IE.sourceTransportPort, length: 2 },
  { id: IE.destinationTransportPort, length: 2 },
  { id: IE.protocolIdentifier, length: 1 },
  { id: IE.flowStartSysUpTime, length: 4 },
  { id: IE.flowEndSysUpTime, length: 4 },
];

/** A decoder that also records every fault reported through onError. */
function decoder(opts: FlowDecoderOptions = {}): FlowDecoder & { faults: unknown[] } {
  const faults: unknown[] = [];
  const dec = new FlowDecoder({ ...opts, onError: (err) => faults.push(err) }) as FlowDecoder & { faults: unknown[] };
  dec.faults = faults;
  return dec;
}

/** Decode packets (none may throw); returns the records, checked through the batch format (CRC, sizes). */
function decode(dec: FlowDecoder, packets: Uint8Array[], exporter = EXP, receivedMs = NOW): FlowRecord[] {
  const w = new BatchWriter(4);
  let total = 0;
  for (const p of packets) {
    const n = dec.decode(p, exporter, receivedMs, w);
    assert.ok(Number.isInteger(n) && n >= 0, `decode returned ${n}`);
    total += n;
  }
  assert.equal(w.count, total, 'decode() return values add up to the records written');
  return [...records(openBatch(w.finish(receivedMs)))];
}

/** No internal faults: the counter that exists for decoder bugs stays at 0. */
function clean(dec: FlowDecoder & { faults: unknown[] }): void {
  assert.deepEqual(dec.faults, []);
  for (const [exp, c] of dec.exporters) assert.equal(c.decoderErrors, 0, `decoderErrors for ${exp}`);
}

function domain(dec: FlowDecoder, version: number, id: number, exporter = EXP): DomainState {
  for (const d of dec.registry.all()) if (d.exporterText === exporter && d.version === version && d.domain === id) return d;
  throw new Error(`no domain ${exporter}/${version}/${id}`);
}

function total(dec: FlowDecoder, key: keyof DomainCounters): number {
  let n = 0;
  for (const d of dec.registry.all()) n += d.counters[key];
  return n;
}

const exp = (dec: FlowDecoder, exporter = EXP) => dec.exporters.get(exporter)!;

/** Set boundaries of a v9 / IPFIX packet as built (header length, then each set's end). */
function setEnds(pkt: Buffer): number[] {
  let p = pkt.readUInt16BE(0) === 9 ? 20 : 16;
  const ends = [p];
  while (p + 4 <= pkt.length) {
    p += pkt.readUInt16BE(p + 2);
    ends.push(p);
  }
  assert.equal(p, pkt.length, 'builder made a well-framed packet');
  return ends;
}

/** A template set body with records written by hand (any id, any count, any field specs). */
function templateBody(...recs: { id: number; count?: number; fields: [number, number][] }[]): Buffer {
  const parts: Buffer[] = [];
  for (const r of recs) {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(r.id, 0);
    h.writeUInt16BE(r.count ?? r.fields.length, 2);
    parts.push(h);
    for (const [id, len] of r.fields) {
      const f = Buffer.alloc(4);
      f.writeUInt16BE(id, 0);
      f.writeUInt16BE(len, 2);
      parts.push(f);
    }
  }
  return Buffer.concat(parts);
}

const v9 = (seq = 0, domainId = 0) => new PacketBuilder(9, { domain: domainId, exportSecs: T0, sequence: seq, uptimeMs: 100_000 });
const ipfix = (seq = 0, domainId = 0, pad = false) => new PacketBuilder(10, { domain: domainId, exportSecs: T0, sequence: seq }, pad);

// ---- truncation ------------------------------------------------------------------

test('v9: every prefix of a valid packet decodes without throwing, keeps only whole sets, counts the cut', LIMIT, () => {
  const b = v9(1, 7)
    .optionsTemplate(
      300,
      [{ id: 1, length: 4 }],
      [
        { id: IE.samplerId, length: 1 },
        { id: IE.samplerMode, length: 1 },
        { id: IE.samplerRandomInterval, length: 4 },
      ],
    )
    .data(300, [[0, 5, 2, 64]])
    .template(256, [...V4, { id: IE.samplerId, length: 1 }])
    .template(257, V6)
    .data(
      256,
      [0, 1, 2].map((i) => [...v4row(i), 5]),
    )
    .data(257, [
      ['2001:db8::1', '2a05:d018::1', 5353, 443, 17, 90_000, 99_000],
      ['2001:db8::2', '2a05:d018::2', 5354, 443, 17, 91_000, 99_500],
    ])
    .data(256, [[...v4row(3), 9]]);
  const pkt = b.build();
  const rowsPerSet = [0, 0, 0, 0, 0, 3, 2, 1]; // header, then each set in order
  const ends = setEnds(pkt);
  assert.equal(ends.length, rowsPerSet.length);
  const full = decode(decoder(), [pkt]);
  assert.equal(full.length, 6);
  assert.equal(full[0]!.samplingRate, 64);

  for (let len = 0; len <= pkt.length; len++) {
    const dec = decoder();
    const r = decode(dec, [pkt.subarray(0, len)]);
    clean(dec);
    let want = 0;
    let boundary = 0;
    ends.forEach((e, i) => {
      if (e <= len) {
        want += rowsPerSet[i]!;
        boundary = e;
      }
    });
    assert.deepEqual(r, full.slice(0, want), `prefix ${len}: records of whole sets only`);
    if (len < 20) {
      assert.equal(exp(dec).malformedPackets, 1, `prefix ${len}: too short for a header`);
      assert.equal(dec.registry.size, 0);
      continue;
    }
    const d = domain(dec, 9, 7);
    const cut = len - boundary;
    if (cut === 0) {
      assert.equal(d.counters.malformedSets + d.counters.malformedPackets, 0, `prefix ${len}: ends on a set boundary`);
    } else if (cut >= 4) {
      // A set header is visible and promises more than the datagram holds.
      assert.equal(d.counters.malformedSets, 1, `prefix ${len}`);
      assert.equal(d.counters.malformedPackets, 1, `prefix ${len}`);
    }
    // 1–3 stray bytes after the last whole set cannot even hold a set header (see the report).
  }
});

test('IPFIX: every prefix of a valid message decodes without throwing, keeps only whole sets, counts the cut', LIMIT, () => {
  const flow: FieldSpec[] = [
    { id: IE.sourceIPv4Address, length: 4 },
    { id: 82, length: VARLEN },
    { id: 1, length: 4, enterprise: 2636 },
    { id: IE.destinationIPv4Address, length: 4 },
    { id: IE.octetDeltaCount, length: 4 },
    { id: IE.selectorId, length: 8 },
    { id: 5, length: VARLEN, enterprise: 9 },
  ];
  const v6ms: FieldSpec[] = [
    { id: IE.sourceIPv6Address, length: 16 },
    { id: IE.destinationIPv6Address, length: 16 },
    { id: IE.flowStartMilliseconds, length: 8 },
    { id: IE.flowEndMilliseconds, length: 8 },
  ];
  const pkt = ipfix(0, 3)
    .optionsTemplate(
      500,
      [{ id: IE.selectorId, length: 8 }],
      [
        { id: IE.samplingPacketInterval, length: 4 },
        { id: IE.samplingPacketSpace, length: 4 },
      ],
    )
    .data(500, [[1, 1, 99]])
    .template(600, flow)
    .template(601, v6ms)
    .data(600, [
      ['10.0.0.1', 'eth0', 7, '52.0.0.1', 1000, 1, 'x'.repeat(300)],
      ['10.0.0.2', '', 7, '52.0.0.2', 2000, 1, ''],
    ])
    .data(601, [['2001:db8::1', '2a05:d018::1', NOW - 5000, NOW - 1000]])
    .build();
  const rowsPerSet = [0, 0, 0, 0, 0, 2, 1];
  const ends = setEnds(pkt);
  const full = decode(decoder(), [pkt]);
  assert.equal(full.length, 3);
  assert.equal(full[0]!.samplingRate, 100);

  for (let len = 0; len <= pkt.length; len++) {
    const dec = decoder();
    const r = decode(dec, [pkt.subarray(0, len)]);
    clean(dec);
    let want = 0;
    let boundary = 0;
    ends.forEach((e, i) => {
      if (e <= len) {
        want += rowsPerSet[i]!;
        boundary = e;
      }
    });
    assert.deepEqual(r, full.slice(0, want), `prefix ${len}: records of whole sets only`);
    if (len < 16) {
      assert.equal(exp(dec).malformedPackets, 1, `prefix ${len}: too short for a header`);
      assert.equal(dec.registry.size, 0);
      continue;
    }
    const d = domain(dec, 10, 3);
    if (len === pkt.length) {
      assert.equal(d.counters.malformedPackets + d.counters.malformedSets, 0);
      continue;
    }
    // The message length says more than arrived: always detectable in IPFIX.
    assert.ok(d.counters.malformedPackets >= 1, `prefix ${len}: truncated message counted`);
    if (len - boundary >= 4) assert.equal(d.counters.malformedSets, 1, `prefix ${len}: the cut set counted`);
    if (len - boundary === 0) assert.equal(d.counters.malformedSets, 0, `prefix ${len}: no set was cut`);
  }
});

test('v5: every prefix, and a header count that disagrees with the datagram', LIMIT, () => {
  const recs: V5Record[] = [0, 1, 2].map((i) => ({
    src: `10.0.0.${i}`,
    dst: '52.0.0.1',
    packets: 1,
    bytes: 60,
    first: 1000,
    last: 2000,
    srcPort: i,
    dstPort: 80,
    proto: 6,
  }));
  const pkt = buildV5({ uptimeMs: 5000, exportSecs: T0, sequence: 0, samplingInterval: 100 }, recs);
  const full = decode(decoder(), [pkt]);
  assert.equal(full.length, 3);
  for (let len = 0; len <= pkt.length; len++) {
    const dec = decoder();
    const r = decode(dec, [pkt.subarray(0, len)]);
    clean(dec);
    if (len < 24) {
      assert.equal(r.length, 0);
      assert.equal(exp(dec).malformedPackets, 1);
      continue;
    }
    const whole = Math.floor((len - 24) / 48);
    assert.deepEqual(r, full.slice(0, whole), `prefix ${len}`);
    assert.equal(domain(dec, 5, 0).counters.malformedPackets, whole < 3 ? 1 : 0, `prefix ${len}`);
  }

  // count > 30 (v5's maximum), count 0 with records present, junk after the records.
  const dec = decoder();
  const many = Buffer.from(pkt);
  many.writeUInt16BE(0xffff, 2);
  assert.equal(decode(dec, [many]).length, 3, 'records present are kept');
  const none = Buffer.from(pkt);
  none.writeUInt16BE(0, 2);
  assert.equal(decode(dec, [none]).length, 0, 'count 0: nothing promised, nothing decoded');
  assert.equal(decode(dec, [Buffer.concat([pkt, Buffer.alloc(47, 0xee)])]).length, 3, 'a partial record of junk is not a record');
  assert.equal(domain(dec, 5, 0).counters.malformedPackets, 1);
  clean(dec);
});

// ---- lengths that lie ---------------------------------------------------------------

test('set lengths that lie: past the datagram, below 4, zero; earlier sets are kept, nothing hangs', LIMIT, () => {
  for (const version of [9, 10] as const) {
    for (const bad of [0, 1, 2, 3, 0xffff, 5000]) {
      const dec = decoder();
      const b = version === 9 ? v9(0, 1) : ipfix(0, 1);
      const pkt = b
        .template(256, V4)
        .data(256, [v4row(0), v4row(1)])
        .rawSet(256, Buffer.alloc(28))
        .data(256, [v4row(2)])
        .build();
      const ends = setEnds(pkt);
      const lie = Buffer.from(pkt);
      lie.writeUInt16BE(bad, ends[2]! + 2); // the third set's length
      const r = decode(dec, [lie]);
      clean(dec);
      assert.deepEqual(
        r.map((x) => x.srcPort),
        [40000, 40001],
        `v${version} set length ${bad}: records before the lie kept, none after`,
      );
      const d = domain(dec, version, 1);
      assert.equal(d.counters.malformedSets, 1, `v${version} set length ${bad}`);
      assert.equal(d.counters.malformedPackets, 1, `v${version} set length ${bad}`);
    }
  }
  // The very first set lies: the header alone is used (sequence, domain), nothing decoded.
  for (const version of [9, 10] as const) {
    const dec = decoder();
    const pkt = Buffer.from(
      (version === 9 ? v9(0, 2) : ipfix(0, 2))
        .template(256, V4)
        .data(256, [v4row(0)])
        .build(),
    );
    pkt.writeUInt16BE(0, version === 9 ? 22 : 18);
    assert.equal(decode(dec, [pkt]).length, 0);
    assert.equal(domain(dec, version, 2).counters.malformedSets, 1);
    assert.equal(domain(dec, version, 2).templates.size, 0);
    clean(dec);
  }
});

test('IPFIX message length larger or smaller than the datagram', LIMIT, () => {
  const pkt = ipfix(0, 4)
    .template(256, V4)
    .data(256, [v4row(0), v4row(1)])
    .data(256, [v4row(2)])
    .build();
  const ends = setEnds(pkt);

  // Larger: truncated in transit; every whole set is still decoded, and the packet counted.
  let dec = decoder();
  const larger = Buffer.from(pkt);
  larger.writeUInt16BE(pkt.length + 100, 2);
  assert.equal(decode(dec, [larger]).length, 3);
  assert.equal(domain(dec, 10, 4).counters.malformedPackets, 1);
  assert.equal(domain(dec, 10, 4).counters.malformedSets, 0);
  clean(dec);

  // Smaller, on a set boundary: the message ends there; what follows is not decoded.
  dec = decoder();
  const smaller = Buffer.from(pkt);
  smaller.writeUInt16BE(ends[2]!, 2);
  assert.deepEqual(
    decode(dec, [smaller]).map((x) => x.srcPort),
    [40000, 40001],
  );
  clean(dec);

  // Smaller, inside a set: that set is cut by the message length and counted.
  dec = decoder();
  const inside = Buffer.from(pkt);
  inside.writeUInt16BE(ends[2]! + 10, 2);
  assert.equal(decode(dec, [inside]).length, 2);
  assert.equal(domain(dec, 10, 4).counters.malformedSets, 1);
  clean(dec);

  // Below the header size (0, 1, 15): the header cannot be trusted at all.
  for (const len of [0, 1, 15]) {
    dec = decoder();
    const tiny = Buffer.from(pkt);
    tiny.writeUInt16BE(len, 2);
    assert.equal(decode(dec, [tiny]).length, 0);
    assert.equal(exp(dec).malformedPackets, 1, `message length ${len}`);
    assert.equal(dec.registry.size, 0);
    clean(dec);
  }

  // Exactly the header: an empty message is fine (keepalive-like), nothing counted.
  dec = decoder();
  const empty = Buffer.from(pkt.subarray(0, 16));
  empty.writeUInt16BE(16, 2);
  assert.equal(decode(dec, [empty]).length, 0);
  assert.equal(exp(dec).malformedPackets, 0);
  assert.equal(domain(dec, 10, 4).counters.malformedPackets, 0);
  clean(dec);
});

// ---- templates -------------------------------------------------------------------------

test('templates with zero fields: v9 rejects them, IPFIX reads them as withdrawals; zero-length layouts rejected', LIMIT, () => {
  let dec = decoder();
  // v9: an empty template, then a good one in the same set (framing is intact, so it is defined).
  const p9 = v9(0, 1)
    .rawSet(0, templateBody({ id: 256, fields: [] }, { id: 257, fields: V4.map((f) => [f.id, f.length]) }))
    .data(257, [v4row(0)], V4)
    .build();
  assert.equal(decode(dec, [p9]).length, 1);
  let d = domain(dec, 9, 1);
  assert.equal(d.counters.templatesRejected, 1);
  assert.deepEqual([...d.templates.keys()], [257]);
  // Every field zero bytes long: a record of no bytes would never advance.
  const zero = v9(1, 1)
    .rawSet(
      0,
      templateBody({
        id: 258,
        fields: [
          [8, 0],
          [12, 0],
        ],
      }),
    )
    .rawSet(258, Buffer.alloc(64))
    .build();
  assert.equal(decode(dec, [zero]).length, 0);
  assert.equal(d.counters.templatesRejected, 2);
  assert.equal(d.templates.has(258), false);
  clean(dec);

  // IPFIX: count 0 is a withdrawal (RFC 7011 §8.1) of that id.
  dec = decoder();
  decode(dec, [ipfix(0, 1).template(256, V4).build()]);
  d = domain(dec, 10, 1);
  assert.equal(d.templates.has(256), true);
  decode(dec, [
    ipfix(0, 1)
      .rawSet(2, templateBody({ id: 256, fields: [] }))
      .build(),
  ]);
  assert.equal(d.templates.has(256), false);
  assert.equal(d.counters.templatesWithdrawn, 1);
  decode(dec, [
    ipfix(0, 1)
      .rawSet(
        2,
        templateBody({
          id: 259,
          fields: [
            [8, 0],
            [12, 0],
          ],
        }),
      )
      .build(),
  ]);
  assert.equal(d.counters.templatesRejected, 1);
  // An options template with no scope, or more scope fields than fields.
  const opt = (scope: number) => {
    const h = Buffer.alloc(6);
    h.writeUInt16BE(300, 0);
    h.writeUInt16BE(1, 2);
    h.writeUInt16BE(scope, 4);
    return Buffer.concat([h, Buffer.from([0, IE.samplingInterval, 0, 4])]);
  };
  decode(dec, [ipfix(0, 1).rawSet(3, opt(0)).rawSet(3, opt(2)).build()]);
  assert.equal(d.counters.templatesRejected, 3);
  assert.equal(d.templates.has(300), false);
  clean(dec);
});

test('a template claiming 65,535 fields without the bytes for them, and one over maxFieldsPerTemplate', LIMIT, () => {
  for (const version of [9, 10] as const) {
    const dec = decoder();
    const pkt = (version === 9 ? v9(0, 1) : ipfix(0, 1))
      .template(256, V4)
      .data(256, [v4row(0)])
      .rawSet(
        version === 9 ? 0 : 2,
        templateBody({
          id: 257,
          count: 65535,
          fields: [
            [8, 4],
            [12, 4],
          ],
        }),
      )
      .data(256, [v4row(1)])
      .build();
    const r = decode(dec, [pkt]);
    clean(dec);
    assert.equal(r.length, 2, `v${version}: sets around the bad template are fine`);
    const d = domain(dec, version, 1);
    assert.equal(d.counters.templatesRejected, 1);
    assert.equal(d.counters.malformedSets, 1);
    assert.equal(d.templates.has(257), false);

    // Present in full but over the limit: refused without compiling it.
    const max = DEFAULT_LIMITS.maxFieldsPerTemplate;
    const fields = Array.from({ length: max + 1 }, (_, i): [number, number] => [i % 2 ? 8 : 12, 4]);
    decode(dec, [(version === 9 ? v9(1, 1) : ipfix(1, 1)).rawSet(version === 9 ? 0 : 2, templateBody({ id: 258, fields })).build()]);
    assert.equal(d.counters.templatesRejected, 2);
    assert.equal(d.templates.has(258), false);
    // Exactly at the limit: accepted.
    decode(dec, [(version === 9 ? v9(2, 1) : ipfix(2, 1)).rawSet(version === 9 ? 0 : 2, templateBody({ id: 259, fields: fields.slice(0, max) })).build()]);
    assert.equal(d.templates.has(259), true);
    clean(dec);
  }
});

test('template ids below 256 are refused; reserved set ids are skipped by length', LIMIT, () => {
  // v9: a template id < 256 spoils the rest of its set (framing inside it is suspect), not the packet.
  let dec = decoder();
  const p9 = v9(0, 1)
    .rawSet(0, templateBody({ id: 255, fields: [[8, 4]] }, { id: 256, fields: [[8, 4]] }))
    .rawSet(1, Buffer.from([0, 5, 0, 4, 0, 4, 0, 1, 0, 4, 0, 34, 0, 4])) // options template id 5
    .rawSet(7, Buffer.alloc(12)) // reserved flowset id
    .template(257, V4)
    .data(257, [v4row(0)])
    .build();
  assert.equal(decode(dec, [p9]).length, 1);
  let d = domain(dec, 9, 1);
  assert.equal(d.counters.templatesRejected, 2);
  assert.deepEqual([...d.templates.keys()], [257]);
  clean(dec);

  // IPFIX: each template record stands alone; ids 0..255 refused, the next one defined.
  dec = decoder();
  const pf = ipfix(0, 1)
    .rawSet(
      2,
      templateBody(
        { id: 0, count: 1, fields: [[8, 4]] },
        { id: 1, fields: [[8, 4]] },
        { id: 255, fields: [[8, 4]] },
        { id: 256, fields: V4.map((f) => [f.id, f.length]) },
      ),
    )
    .rawSet(4, Buffer.alloc(20)) // reserved set ids
    .rawSet(255, Buffer.alloc(20))
    .rawSet(0, Buffer.alloc(8)) // v9's template set id means nothing in IPFIX
    .data(256, [v4row(0)], V4)
    .build();
  assert.equal(decode(dec, [pf]).length, 1);
  d = domain(dec, 10, 1);
  assert.equal(d.counters.templatesRejected, 3);
  assert.deepEqual([...d.templates.keys()], [256]);
  assert.equal(d.counters.malformedSets, 0);
  clean(dec);
});

test('v9 options template with scope or option length not a multiple of 4, or longer than the set', LIMIT, () => {
  const dec = decoder();
  const opts = (scopeLen: number, optLen: number, body: number[]) => {
    const h = Buffer.alloc(6);
    h.writeUInt16BE(300, 0);
    h.writeUInt16BE(scopeLen, 2);
    h.writeUInt16BE(optLen, 4);
    return Buffer.concat([h, Buffer.from(body)]);
  };
  const fields = [0, 1, 0, 4, 0, 34, 0, 4]; // scope System/4, samplingInterval/4
  for (const [s, o] of [
    [5, 4],
    [4, 5],
    [3, 0],
    [4, 400],
  ] as const) {
    decode(dec, [
      v9(0, 1)
        .rawSet(1, opts(s, o, fields))
        .data(
          300,
          [[0, 1000]],
          [
            { id: 1, length: 4 },
            { id: 34, length: 4 },
          ],
        )
        .build(),
    ]);
  }
  const d = domain(dec, 9, 1);
  assert.equal(d.counters.templatesRejected, 4);
  assert.equal(d.counters.malformedSets, 4);
  assert.equal(d.templates.size, 0);
  assert.equal(d.announcedRate, 0, 'no rate learned from data of a refused template');
  // The well-formed version of the same template works (sanity check of the hand-built bytes).
  decode(dec, [
    v9(1, 1)
      .rawSet(1, opts(4, 4, fields))
      .data(
        300,
        [[0, 1000]],
        [
          { id: 1, length: 4 },
          { id: 34, length: 4 },
        ],
      )
      .build(),
  ]);
  assert.equal(d.announcedRate, 1000);
  clean(dec);
});

test('template churn: one id redefined over and over in one packet; each data set uses the layout in force', LIMIT, () => {
  for (const version of [9, 10] as const) {
    const dec = decoder();
    const A = V4;
    const B: FieldSpec[] = [V4[1]!, V4[0]!, V4[3]!, V4[2]!]; // swapped addresses and ports
    const C: FieldSpec[] = [
      { id: IE.sourceIPv6Address, length: 16 },
      { id: IE.destinationIPv6Address, length: 16 },
    ];
    const b = version === 9 ? v9(0, 1) : ipfix(0, 1);
    // The same id defined three times in a row, then its data: the last layout wins.
    b.template(256, A)
      .template(256, B)
      .template(256, C)
      .data(256, [['2001:db8::1', '2001:db8::2']], C);
    // Interleaved: A, data, B, data, A, data.
    b.template(256, A)
      .data(256, [v4row(1)], A)
      .template(256, B)
      .data(256, [['52.9.9.9', '10.9.9.9', 443, 5555]], B)
      .template(256, A)
      .data(256, [v4row(2)], A);
    // A data template turned into an options template and back.
    b.optionsTemplate(256, [{ id: 1, length: 4 }], [{ id: IE.samplingInterval, length: 4 }]).data(
      256,
      [[0, 32]],
      [
        { id: 1, length: 4 },
        { id: IE.samplingInterval, length: 4 },
      ],
    );
    b.template(256, A).data(256, [v4row(3)], A);
    // The same layout repeated 500 times is a refresh, not a change.
    for (let i = 0; i < 500; i++) b.template(256, A);
    const r = decode(dec, [b.build()]);
    clean(dec);
    assert.deepEqual(
      r.map((x) => [x.src, x.dst, x.srcPort]),
      [
        ['2001:db8::1', '2001:db8::2', 0],
        ['10.0.0.1', '52.1.2.3', 40001],
        ['10.9.9.9', '52.9.9.9', 5555],
        ['10.0.0.2', '52.1.2.3', 40002],
        ['10.0.0.3', '52.1.2.3', 40003],
      ],
      `v${version}`,
    );
    assert.equal(r[4]!.samplingRate, 32, 'the options record between them was applied');
    const d = domain(dec, version, 1);
    assert.equal(d.counters.templatesAdded, 1);
    assert.equal(d.counters.templatesChanged, 7);
    assert.equal(d.counters.optionsRecords, 1);
    assert.equal(d.templates.size, 1);
  }
});

test('withdrawals of unknown ids change nothing; withdraw-all only touches its own kind', LIMIT, () => {
  const dec = decoder();
  decode(dec, [
    ipfix(0, 1)
      .template(256, V4)
      .optionsTemplate(300, [{ id: 1, length: 4 }], [{ id: 34, length: 4 }])
      .build(),
  ]);
  const d = domain(dec, 10, 1);
  // Unknown ids, an options-set withdrawal of an unknown id, and 16,000 withdrawals in one set.
  const many = Buffer.alloc(16_000 * 4);
  for (let i = 0; i < 16_000; i++) many.writeUInt16BE(1000 + i, i * 4);
  decode(dec, [ipfix(1, 1).withdraw(999).withdraw(998, true).rawSet(2, many).build()]);
  assert.deepEqual([...d.templates.keys()].sort(), [256, 300]);
  assert.equal(d.counters.templatesWithdrawn, 0);
  // Withdraw id 5 (< 256 and not a set id): refused.
  decode(dec, [ipfix(2, 1).withdraw(5).build()]);
  assert.equal(d.counters.templatesRejected, 1);
  // "All data templates" sent in an options template set means nothing there: refused, nothing removed.
  decode(dec, [
    ipfix(3, 1)
      .rawSet(3, Buffer.from([0, 2, 0, 0]))
      .build(),
  ]);
  assert.equal(d.counters.templatesRejected, 2);
  assert.equal(d.templates.size, 2);
  // All data templates: the options template stays.
  decode(dec, [ipfix(4, 1).withdraw(2).build()]);
  assert.deepEqual([...d.templates.keys()], [300]);
  decode(dec, [ipfix(5, 1).withdraw(3, true).build()]);
  assert.equal(d.templates.size, 0);
  assert.equal(d.counters.templatesWithdrawn, 2);
  // Withdrawing again, when nothing is left: nothing to count.
  decode(dec, [ipfix(6, 1).withdraw(2).withdraw(3, true).withdraw(256).build()]);
  assert.equal(d.counters.templatesWithdrawn, 2);
  clean(dec);
});

// ---- garbage and variable-length fields --------------------------------------------------

test('garbage after a valid flowset: the valid records are kept and the garbage counted', LIMIT, () => {
  const junks = [
    Buffer.from([0x12, 0x34, 0xff, 0xff, 0xde, 0xad]), // a set header whose length runs past the end
    Buffer.from([0x01, 0x00, 0x00, 0x02]), // length below 4
    Buffer.from([0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]), // length 0
    Buffer.alloc(40, 0xff),
  ];
  for (const version of [9, 10] as const) {
    for (const junk of junks) {
      const dec = decoder();
      const pkt = (version === 9 ? v9(0, 1) : ipfix(0, 1))
        .template(256, V4)
        .data(256, [v4row(0), v4row(1)])
        .build();
      let garbage = Buffer.concat([pkt, junk]);
      if (version === 10) {
        garbage = Buffer.from(garbage);
        garbage.writeUInt16BE(garbage.length, 2); // the garbage is inside the message
      }
      const r = decode(dec, [garbage]);
      clean(dec);
      assert.equal(r.length, 2, `v${version} junk ${junk.toString('hex')}`);
      assert.equal(domain(dec, version, 1).counters.malformedSets, 1, `v${version} junk ${junk.toString('hex')}`);
    }
  }
});

test('variable-length prefixes pointing past the end: the record is dropped and counted, framing continues with the next set', LIMIT, () => {
  const mid: FieldSpec[] = [
    { id: IE.sourceIPv4Address, length: 4 },
    { id: IE.destinationIPv4Address, length: 4 },
    { id: 82, length: VARLEN },
    { id: IE.octetDeltaCount, length: 4 },
  ];
  const tail: FieldSpec[] = [mid[0]!, mid[1]!, mid[3]!, mid[2]!];
  const addrs = (i: number) => [10, 0, 0, i, 52, 0, 0, 1];
  const cases: { fields: FieldSpec[]; good: (i: number) => number[]; bad: number[]; what: string }[] = [
    { fields: mid, good: (i) => [...addrs(i), 2, 0x65, 0x30, 0, 0, 0, 100], bad: [...addrs(9), 200, 1, 2, 3, 4, 5], what: '1-byte prefix: 200 bytes, 5 there' },
    {
      fields: mid,
      good: (i) => [...addrs(i), 2, 0x65, 0x30, 0, 0, 0, 100],
      bad: [...addrs(9), 255, 0xff, 0xff, 1, 2, 3, 4],
      what: '3-byte prefix: 65,535 bytes',
    },
    {
      fields: mid,
      good: (i) => [...addrs(i), 2, 0x65, 0x30, 0, 0, 0, 100],
      bad: [...addrs(9), 4, 1, 2, 3, 4, 0, 0],
      what: 'value fits, the fixed field after it does not',
    },
    {
      fields: tail,
      good: (i) => [...addrs(i), 0, 0, 0, 100, 2, 0x65, 0x30],
      bad: [...addrs(9), 0, 0, 0, 100, 255, 0],
      what: '3-byte prefix cut after its first length byte',
    },
    { fields: tail, good: (i) => [...addrs(i), 0, 0, 0, 100, 2, 0x65, 0x30], bad: [...addrs(9), 0, 0, 0, 100, 255], what: '3-byte prefix cut after the 255' },
    { fields: tail, good: (i) => [...addrs(i), 0, 0, 0, 100, 0], bad: [...addrs(9), 0, 0, 0, 100, 1], what: '1-byte prefix, value missing' },
  ];
  for (const c of cases) {
    const dec = decoder();
    const pkt = ipfix(0, 1)
      .template(256, c.fields)
      .rawSet(256, Buffer.from([...c.good(1), ...c.good(2), ...c.bad]))
      .template(257, V4)
      .data(257, [v4row(7)])
      .build();
    const r = decode(dec, [pkt]);
    clean(dec);
    assert.deepEqual(
      r.map((x) => x.src),
      ['10.0.0.1', '10.0.0.2', '10.0.0.7'],
      c.what,
    );
    assert.equal(r[0]!.bytes, 100);
    const d = domain(dec, 10, 1);
    assert.equal(d.counters.malformedRecords, 1, c.what);
    assert.equal(d.counters.records, 3);
  }

  // The same in an options record: the rate it would carry is not applied.
  const dec = decoder();
  const opt = ipfix(0, 1)
    .optionsTemplate(
      300,
      [{ id: IE.observationDomainId, length: 4 }],
      [
        { id: 82, length: VARLEN },
        { id: IE.samplingInterval, length: 4 },
      ],
    )
    .rawSet(300, Buffer.from([0, 0, 0, 1, 100, 0, 0, 0x03, 0xe8]))
    .template(257, V4)
    .data(257, [v4row(7)])
    .build();
  const r = decode(dec, [opt]);
  clean(dec);
  assert.equal(r.length, 1);
  assert.equal(r[0]!.samplingRate, 0);
  const d = domain(dec, 10, 1);
  assert.equal(d.counters.optionsRecords, 0);
  assert.equal(d.counters.malformedRecords, 1);
});

// ---- headers, versions, sizes -------------------------------------------------------------

test('unknown versions are counted in unknownVersion and create no state', LIMIT, () => {
  const dec = decoder();
  const body = Buffer.alloc(64, 0x5a);
  const versions = [0, 1, 6, 7, 8, 11, 0x0900, 0x0a00, 0x0500, 0xffff];
  for (const v of versions) {
    const p = Buffer.from(body);
    p.writeUInt16BE(v, 0);
    assert.equal(decode(dec, [p, p.subarray(0, 2)]).length, 0);
  }
  clean(dec);
  assert.equal(exp(dec).unknownVersion, versions.length * 2);
  assert.equal(exp(dec).malformedPackets, 0);
  assert.equal(exp(dec).packets, versions.length * 2);
  assert.equal(dec.registry.size, 0);
});

test('empty datagrams and headers cut short are malformed packets, and create no state', LIMIT, () => {
  const dec = decoder();
  const v5 = buildV5({ uptimeMs: 0, exportSecs: T0, sequence: 0 }, []);
  const p9 = v9(0, 1).build();
  const p10 = ipfix(0, 1).build();
  const cases: Uint8Array[] = [new Uint8Array(0), Buffer.of(0), Buffer.of(9), Buffer.of(0, 10, 0)];
  for (let n = 2; n < 24; n++) cases.push(v5.subarray(0, n));
  for (let n = 2; n < 20; n++) cases.push(p9.subarray(0, n));
  for (let n = 2; n < 16; n++) cases.push(p10.subarray(0, n));
  assert.equal(decode(dec, cases).length, 0);
  clean(dec);
  assert.equal(exp(dec).malformedPackets, cases.length);
  assert.equal(exp(dec).unknownVersion, 0);
  assert.equal(dec.registry.size, 0);
  // Exactly a header: valid, empty.
  assert.equal(decode(dec, [v5, p9, p10]).length, 0);
  assert.equal(exp(dec).malformedPackets, cases.length);
  assert.equal(dec.registry.size, 3);
  for (const d of dec.registry.all()) assert.equal(d.counters.malformedPackets + d.counters.malformedSets, 0);
  clean(dec);
});

// ---- resource bounds --------------------------------------------------------------------------

test('a huge number of distinct template ids is bounded by maxTemplatesPerDomain', LIMIT, () => {
  const dec = decoder();
  const max = DEFAULT_LIMITS.maxTemplatesPerDomain;
  const ids = 10_000;
  const perSet = 5000; // 12 bytes each: a 60 kB set
  for (let first = 0; first < ids; first += perSet) {
    const recs = Array.from({ length: perSet }, (_, i) => ({
      id: 256 + first + i,
      fields: [
        [8, 4],
        [12, 4],
      ] as [number, number][],
    }));
    decode(dec, [
      v9(first / perSet, 1)
        .rawSet(0, templateBody(...recs))
        .build(),
    ]);
  }
  const d = domain(dec, 9, 1);
  assert.equal(d.templates.size, max);
  assert.equal(d.counters.templatesAdded, max);
  assert.equal(d.counters.templatesRejected, ids - max);
  // At the limit: a known id may still change layout; a new one is still refused; known ids decode.
  decode(dec, [v9(2, 1).template(256, V4).template(60_000, V4).build()]);
  assert.equal(d.counters.templatesChanged, 1);
  assert.equal(d.counters.templatesRejected, ids - max + 1);
  assert.equal(d.templates.size, max);
  const r = decode(dec, [
    v9(3, 1)
      .data(256, [v4row(5)], V4)
      .data(257, [['10.1.1.1', '52.2.2.2']], V4.slice(0, 2))
      .build(),
  ]);
  assert.deepEqual(
    r.map((x) => x.src),
    ['10.0.0.5', '10.1.1.1'],
  );
  // Another domain of the same exporter has its own budget.
  decode(dec, [v9(0, 2).template(256, V4).build()]);
  assert.equal(domain(dec, 9, 2).templates.size, 1);
  clean(dec);
});

test('many exporters and observation domains are bounded by maxDomains; known ones keep working', LIMIT, () => {
  const maxDomains = 64;
  const dec = decoder({ limits: { maxDomains } });
  const pkt = (domainId: number) =>
    ipfix(0, domainId)
      .template(256, V4)
      .data(256, [v4row(0)])
      .build();
  let kept = 0;
  for (let i = 0; i < 100; i++) kept += decode(dec, [pkt(0)], `198.51.100.${i}`).length;
  assert.equal(kept, maxDomains);
  assert.equal(dec.registry.size, maxDomains);
  assert.equal(dec.registry.refusedDomains, 100 - maxDomains);
  // Their packets are counted (in the shared overflow entry past the exporter limit), not called malformed.
  assert.equal(exp(dec, OTHER_EXPORTERS).packets, 100 - maxDomains);
  assert.equal(exp(dec, OTHER_EXPORTERS).malformedPackets, 0);
  // One exporter minting observation domains hits the same limit.
  for (let id = 1; id < 50; id++) decode(dec, [pkt(id)], '198.51.100.0');
  assert.equal(dec.registry.size, maxDomains);
  assert.equal(dec.registry.refusedDomains, 100 - maxDomains + 49);
  // An exporter that was let in still decodes.
  assert.equal(decode(dec, [pkt(0)], '198.51.100.1').length, 1);
  clean(dec);
});

test('data sets waiting for their template are bounded by maxHeldSets and expire after holdMs', LIMIT, () => {
  const dec = decoder({ limits: { maxHeldSets: 8, holdMs: 1000 } });
  for (let i = 0; i < 20; i++)
    decode(
      dec,
      [
        v9(i, 1)
          .data(256, [v4row(i)], V4)
          .build(),
      ],
      EXP,
      NOW + i,
    );
  const d = domain(dec, 9, 1);
  assert.equal(d.heldSets, 8);
  assert.equal(d.counters.missingTemplateSets, 20);
  assert.equal(d.counters.heldDroppedSets, 12);
  // The template arrives: the 8 most recent are decoded, each with its own packet's context.
  const r = decode(dec, [v9(20, 1).template(256, V4).build()], EXP, NOW + 100);
  assert.deepEqual(
    r.map((x) => x.srcPort),
    [12, 13, 14, 15, 16, 17, 18, 19].map((i) => 40000 + i),
  );
  assert.equal(d.counters.heldDecodedSets, 8);
  assert.equal(d.heldSets, 0);
  // Held sets whose template never comes are dropped (and counted) once holdMs has passed.
  for (let i = 0; i < 3; i++)
    decode(
      dec,
      [
        v9(21 + i, 1)
          .data(999, [v4row(i)], V4)
          .build(),
      ],
      EXP,
      NOW + 200,
    );
  decode(dec, [v9(24, 1).build()], EXP, NOW + 5000);
  assert.equal(d.heldSets, 0);
  assert.equal(d.counters.heldDroppedSets, 15);
  clean(dec);
});

test('pathological but well-framed packets finish quickly: 16k empty sets, 65k one-byte records', LIMIT, () => {
  const dec = decoder();
  // v9: a full datagram of 4-byte sets of a reserved id.
  const empties = Buffer.alloc(16_000 * 4);
  for (let i = 0; i < 16_000; i++) {
    empties.writeUInt16BE(4, i * 4 + 2);
    empties.writeUInt16BE(2 + (i % 254), i * 4);
  }
  const p9 = Buffer.concat([v9(0, 1).build(), empties]);
  // IPFIX: a one-byte record template and a set of 65,000 of them.
  const p10 = ipfix(0, 1)
    .template(256, [{ id: IE.protocolIdentifier, length: 1 }])
    .rawSet(256, Buffer.alloc(65_000, 6))
    .build();
  assert.equal(decode(dec, [p9]).length, 0);
  // All 65,000 are framed and counted; having no addresses, none is published.
  assert.equal(decode(dec, [p10]).length, 0);
  assert.equal(total(dec, 'recordsWithoutAddress'), 65_000);
  clean(dec);
  assert.equal(total(dec, 'malformedSets'), 0);
});

test('records of templates without both addresses are counted per domain and template, never published as :: → ::', LIMIT, () => {
  const dec = decoder();
  const stats: FieldSpec[] = [
    { id: IE.sourceTransportPort, length: 2 },
    { id: IE.destinationTransportPort, length: 2 },
    { id: IE.protocolIdentifier, length: 1 },
    { id: IE.packetDeltaCount, length: 4 },
    { id: IE.octetDeltaCount, length: 4 },
  ];
  const srcOnly: FieldSpec[] = [{ id: IE.sourceIPv4Address, length: 4 }, ...stats];
  const pkt = ipfix(0, 3)
    .template(300, stats)
    .template(301, srcOnly)
    .template(302, V4)
    .data(300, [
      [1, 2, 17, 5, 500],
      [3, 4, 6, 1, 60],
    ])
    .data(301, [['10.0.0.1', 1, 2, 17, 5, 500]])
    .data(302, [v4row(1)])
    .build();
  const r = decode(dec, [pkt]);
  assert.equal(r.length, 1, 'only the record with both addresses is published');
  assert.equal(r[0]!.src, '10.0.0.1');
  assert.equal(r[0]!.dst, '52.1.2.3');
  const d = [...dec.registry.all()].find((x) => x.domain === 3)!;
  assert.equal(d.counters.recordsWithoutAddress, 3);
  assert.equal(d.counters.records, 1);
  assert.equal(d.templates.get(300)!.recordsWithoutAddress, 2);
  assert.equal(d.templates.get(301)!.recordsWithoutAddress, 1);
  assert.equal(d.templates.get(302)!.recordsWithoutAddress, 0);
});

// ---- found by the fuzzer, fixed in the decoder ------------------------------------------------

test('a variable-length prefix due exactly at the end of the datagram is a cut record, not a read past the end', LIMIT, () => {
  // Template: src4, dst4, VARLEN, VARLEN. The record has its first varlen field (1 byte "A") and
  // then the set (and the datagram) ends where the second length prefix should be.
  const T: FieldSpec[] = [
    { id: IE.sourceIPv4Address, length: 4 },
    { id: IE.destinationIPv4Address, length: 4 },
    { id: 82, length: VARLEN },
    { id: 83, length: VARLEN },
  ];
  const body = Buffer.from([10, 0, 0, 1, 52, 0, 0, 1, 0x01, 0x41]);
  const last = ipfix(0, 1).template(256, T).rawSet(256, body).build();
  assert.equal(last.toString('hex'), '000a00366553f1000000000000000001000200180100000400080004000c00040052ffff0053ffff0100000e0a000001340000010141');
  const notLast = ipfix(0, 1).template(256, T).rawSet(256, body).rawSet(999, Buffer.alloc(4)).build();
  for (const [what, pkt] of [
    ['set not last', notLast],
    ['set last in the datagram', last],
  ] as const) {
    const dec = decoder();
    const r = decode(dec, [pkt]);
    clean(dec);
    const d = domain(dec, 10, 1);
    assert.deepEqual([r.length, d.counters.malformedRecords], [0, 1], `${what}: the cut record is dropped and counted`);
  }
  // Also via a held set (its copy always ends at the set end): data first, template later.
  const dec = decoder();
  const r = decode(dec, [ipfix(0, 1).rawSet(256, body).build(), ipfix(1, 1).template(256, T).build()]);
  assert.deepEqual([r.length, domain(dec, 10, 1).counters.malformedRecords], [0, 1], 'held set replayed');
});

test('a cut options record (missing length prefix) applies no sampling rate', LIMIT, () => {
  const pkt = ipfix(0, 1)
    .optionsTemplate(
      300,
      [{ id: IE.observationDomainId, length: 4 }],
      [
        { id: IE.samplingInterval, length: 4 },
        { id: 82, length: VARLEN },
        { id: 83, length: VARLEN },
      ],
    )
    .rawSet(300, Buffer.from([0, 0, 0, 1, 0, 0, 0x03, 0xe8, 0x01, 0x41])) // rate 1000, second length prefix missing
    .build();
  assert.equal(pkt.toString('hex'), '000a00386553f10000000000000000010003001a012c0004000100950004002200040052ffff0053ffff012c000e00000001000003e80141');
  const dec = decoder();
  decode(dec, [pkt]);
  const d = domain(dec, 10, 1);
  assert.deepEqual([d.counters.optionsRecords, d.counters.malformedRecords, d.announcedRate], [0, 1, 0]);
});

test('a truncated IPFIX message is one malformed packet', LIMIT, () => {
  const full = ipfix(0, 1)
    .template(256, V4.slice(0, 2))
    .data(256, [
      ['10.0.0.1', '52.0.0.1'],
      ['10.0.0.2', '52.0.0.2'],
    ])
    .build();
  const cut = full.subarray(0, full.length - 3);
  assert.equal(cut.toString('hex'), '000a00346553f1000000000000000001000200100100000200080004000c0004010000140a000001340000010a00000234');
  const dec = decoder();
  decode(dec, [cut]);
  const d = domain(dec, 10, 1);
  assert.equal(d.counters.packets, 1);
  assert.equal(d.counters.malformedPackets, 1, 'one packet, one malformed packet');
});

test('bytes after the last set (v9: 1-3 bytes; IPFIX: past the message length) are counted as trailing bytes', LIMIT, () => {
  const v9pkt = Buffer.concat([
    v9(0, 1)
      .template(256, V4)
      .data(256, [v4row(0)])
      .build(),
    Buffer.from([0xde, 0xad, 0xbe]),
  ]);
  const ipfixPkt = Buffer.concat([
    ipfix(0, 1)
      .template(256, V4)
      .data(256, [v4row(0)])
      .build(),
    Buffer.from('deadbeefdeadbeef', 'hex'),
  ]);
  for (const [v, pkt] of [
    [9, v9pkt],
    [10, ipfixPkt],
  ] as const) {
    const dec = decoder();
    assert.equal(decode(dec, [pkt]).length, 1);
    const d = domain(dec, v, 1);
    assert.equal(d.counters.trailingBytes, 1, `v${v}: trailing bytes counted`);
    assert.equal(exp(dec).malformedPackets + d.counters.malformedPackets, 0, `v${v}: the valid packet is not malformed`);
  }
});

test('memory stays bounded: held bytes budget, idle domains forgotten by sweep, exporter counters capped', LIMIT, () => {
  const dec = new FlowDecoder({ limits: { maxHeldBytes: 4096, maxDomains: 8, domainIdleMs: 60_000, holdMs: 30_000 } });
  const orphan = (domainId: number) =>
    ipfix(0, domainId)
      .data(999, [['10.0.0.1', '52.0.0.1']], V4.slice(0, 2))
      .rawSet(998, Buffer.alloc(1500))
      .build();
  const w = new BatchWriter();
  for (let i = 0; i < 6; i++) dec.decode(orphan(i), '192.0.2.1', 1_000_000, w);
  assert.ok(dec.registry.held.bytes <= 4096, `held ${dec.registry.held.bytes} bytes`);
  const dropped = [...dec.registry.all()].reduce((a, d) => a + d.counters.heldDroppedSets, 0);
  assert.ok(dropped > 0, 'sets beyond the budget are dropped and counted');
  // Held sets of a domain that went quiet expire on the sweep, not only on its next packet.
  dec.decode(v9(0, 77).build(), '192.0.2.2', 1_040_000, w);
  dec.sweep();
  assert.equal(dec.registry.held.bytes, 0);
  // Domains silent past domainIdleMs are forgotten; new ones can come in.
  dec.decode(v9(1, 78).build(), '192.0.2.3', 1_200_000, w);
  dec.sweep();
  assert.equal(dec.registry.size, 1);
  assert.ok(dec.registry.evictedDomains >= 7);
  // Counters for more sources than the limit share one entry.
  for (let i = 0; i < 50; i++) dec.decode(Buffer.from([0, 7]), `198.51.100.${i}`, 1_200_000, w);
  assert.ok(dec.exporters.size <= 8 + 1);
  assert.ok((dec.exporters.get(OTHER_EXPORTERS)?.unknownVersion ?? 0) > 0);
});
