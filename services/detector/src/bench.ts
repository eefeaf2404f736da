/**
 * Matching rate on one core, without storage: flow batches as ingest publishes them (4,096
 * records) through the detector's per-batch path — the hot scan (side flag, active-line set,
 * flow day's hitlist, lookup of the non-subscriber end), then for matched flows line
 * pseudonyms, evidence rows and detections — against a synthetic hitlist of realistic size.
 *
 *   taskset -c 0 node services/detector/dist/bench.js [--entries 50000] [--match 0.01] [--lines 250000] [--seconds 5] [--ixp]
 *
 * --ixp: the IXP path: no subscriber side (both ends looked up), hosts as /32 and /64 units,
 * each matched host attributed to one of 16 members by the router MAC in the record.
 *
 * Prints one JSON object: flows/s for the whole per-batch path (process), for the scan alone
 * (scan), and for hitlist lookups alone (lookup); figures go to BENCHMARK.md.
 */
import { Attributor } from '@haystack/ixp';
import { parseArgs } from 'node:util';
import { parseAddress } from '@haystack/common';
import { BatchWriter, F, RECORD_SIZE, openBatch, type BatchView } from '@haystack/flow-core';
import { HITLIST_FORMAT, loadHitlist, type Hitlist, type HitlistEntry } from '@haystack/hitlist-contract';
import { seededRandom } from '@haystack/common';
import { LineMask } from './line-sets.js';
import { emptyRows, LineIds } from '@haystack/store';
import { Matcher, ScanResult } from './matcher.js';
import { BatchProcessor } from './processor.js';
import { DetectionEngine, PartitionState, Thresholds } from './rules.js';

const { values: args } = parseArgs({
  options: {
    entries: { type: 'string', default: '50000' },
    match: { type: 'string', default: '0.01' },
    lines: { type: 'string', default: '250000' },
    batches: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
    ixp: { type: 'boolean', default: false },
  },
});
const IXP = args.ixp === true;
const MEMBER_MACS = Array.from({ length: 16 }, (_, k) => Buffer.from([2, 0x10, 0, 0, 0, k]));
const ENTRIES = Number(args.entries);
const MATCH = Number(args.match);
const LINES = Number(args.lines);
const BATCHES = Number(args.batches);
const SECONDS = Number(args.seconds);
const rnd = seededRandom(Number(args.seed));
const DAY_MS = 86_400_000;
const DAY_START = Math.floor(Date.now() / DAY_MS - 1) * DAY_MS;
const day = new Date(DAY_START).toISOString().slice(0, 10);

// A hitlist shaped like the paper's: ~35 detectable classes, a few thousand domains, 50k (address, port) entries.
function syntheticHitlist(n: number): Hitlist {
  const classes = Array.from({ length: 36 }, (_, i) => ({
    id: `class-${i}`,
    level: (['platform', 'manufacturer', 'product'] as const)[i % 3]!,
    name: `Class ${i}`,
  }));
  const domains = Array.from({ length: 2000 }, (_, i) => ({ name: `d${i}.iot${i % 97}.example`, role: 'primary' as const, classes: [i % classes.length] }));
  const rules = classes.map((_, c) => ({ class: c, evidence: domains.flatMap((d, i) => (d.classes[0] === c ? [i] : [])), threshold: 1 }));
  const entries: HitlistEntry[] = [];
  const ports = [443, 8883, 1883, 80, 123];
  for (let i = 0; i < n; i++) {
    const v6 = i % 10 === 0;
    const address = v6
      ? `2001:db8:${((i >> 16) & 0xffff).toString(16)}:${(i & 0xffff).toString(16)}::1`
      : `${20 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}.${1 + (i % 7)}`;
    entries.push({ address, port: ports[i % ports.length]!, transport: 'tcp', domains: [i % domains.length] });
  }
  return {
    format: HITLIST_FORMAT,
    day,
    window: { from: day, to: day, days: 7 },
    builtAt: new Date().toISOString(),
    rulesDigest: 'bench',
    classes,
    domains,
    rules,
    entries,
  };
}

const hitlist = syntheticHitlist(ENTRIES);
const hl = loadHitlist(hitlist);
const entryBytes = hitlist.entries.map((e) => ({ addr: parseAddress(e.address), port: e.port }));

// Subscriber lines: 80% IPv4 (CGNAT space), 20% IPv6 with rotating host parts within a /56.
const lineAddr = (i: number, out: Uint8Array, o: number) => {
  if (i % 5 !== 0) {
    parseAddress(`100.${64 + ((i >> 16) & 63)}.${(i >> 8) & 0xff}.${i & 0xff}`, out, o);
    return;
  }
  parseAddress(`2001:db8:${((i >> 8) & 0xffff).toString(16)}:${((i & 0xff) << 8).toString(16)}::`, out, o);
  for (let k = 8; k < 16; k++) out[o + k] = Math.floor(rnd() * 256);
};

function makeBatches(): Buffer[] {
  const out: Buffer[] = [];
  const remote = new Uint8Array(16);
  for (let b = 0; b < BATCHES; b++) {
    const w = new BatchWriter(4096);
    const o0 = w.reserve(4096);
    for (let i = 0; i < 4096; i++) {
      const o = o0 + i * RECORD_SIZE;
      const dv = w.dv;
      // A batch holds flows exported within minutes of each other (ingest batches by arrival):
      // starts spread over 5 minutes, batches spread over the day.
      const start = DAY_START + Math.floor((b / BATCHES) * (DAY_MS - 300_000) + rnd() * 300_000);
      dv.setFloat64(o + F.start, start, true);
      dv.setFloat64(o + F.end, start + 2000, true);
      dv.setFloat64(o + F.packets, 1 + Math.floor(rnd() * 5), true);
      dv.setFloat64(o + F.bytes, 600, true);
      dv.setUint32(o + F.sampling, 1000, true);
      parseAddress('192.0.2.1', w.buf, o + F.exporter);
      const side = rnd() < 0.7 ? 1 : 2;
      const lineAt = side === 1 ? F.src : F.dst;
      const remAt = side === 1 ? F.dst : F.src;
      lineAddr(Math.floor(rnd() * LINES), w.buf, o + lineAt);
      let port = 443;
      if (rnd() < MATCH) {
        const e = entryBytes[Math.floor(rnd() * entryBytes.length)]!;
        w.buf.set(e.addr, o + remAt);
        port = e.port;
      } else {
        parseAddress(`${1 + Math.floor(rnd() * 200)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`, remote);
        w.buf.set(remote, o + remAt);
      }
      dv.setUint16(o + (side === 1 ? F.dstPort : F.srcPort), port, true);
      dv.setUint16(o + (side === 1 ? F.srcPort : F.dstPort), 40000 + (i & 0x3fff), true);
      w.buf[o + F.proto] = 6;
      w.buf[o + F.ipVersion] = w.buf[o + lineAt + 10] === 0xff ? 4 : 6;
      w.buf[o + F.side] = IXP ? 0 : side;
      w.buf[o + F.version] = IXP ? 133 : 9;
      if (IXP) {
        w.buf.set(MEMBER_MACS[Math.floor(rnd() * 16)]!, o + (side === 1 ? F.srcMac : F.dstMac));
        w.buf.set(MEMBER_MACS[0]!, o + (side === 1 ? F.dstMac : F.srcMac));
      }
    }
    w.count = 4096;
    out.push(w.finish());
  }
  return out;
}

const views: BatchView[] = makeBatches().map((b) => openBatch(b));
const flowsPerRound = views.length * 4096;
const hitlists = { get: (d: number) => (d === DAY_START / DAY_MS ? hl : null) };
const mask = new LineMask(IXP ? 64 : 56);
const attributor = IXP
  ? new Attributor({
      version: '1.0',
      ixpName: 'BENCH-IX',
      members: MEMBER_MACS.map((m, k) => ({
        asn: 65001 + k,
        name: `Member ${k}`,
        macs: [[...m].map((x) => x.toString(16).padStart(2, '0')).join(':')],
        addresses: [],
      })),
    })
  : null;

/** Runs `f` over every batch until SECONDS have passed (after one warm-up round); flows/s. */
function measure(f: (v: BatchView) => void): { flowsPerSecond: number; rounds: number } {
  for (const v of views) f(v); // warm-up: JIT, sets and caches grown
  let rounds = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < SECONDS * 1000) {
    for (const v of views) f(v);
    rounds++;
    t = performance.now();
  }
  return { flowsPerSecond: Math.round((rounds * flowsPerRound) / ((t - t0) / 1000)), rounds };
}

// 1. Lookups alone: the non-subscriber end of every record.
let sink = 0;
const lookup = measure((v) => {
  const buf = v.buf;
  const dv = v.dv;
  for (let i = 0; i < v.count; i++) {
    const o = 32 + i * RECORD_SIZE;
    const side = buf[o + F.side]!;
    sink +=
      side === 1
        ? hl.lookup(buf, o + F.dst, dv.getUint16(o + F.dstPort, true), buf[o + F.proto]!)
        : hl.lookup(buf, o + F.src, dv.getUint16(o + F.srcPort, true), buf[o + F.proto]!);
  }
});

// 2. The scan: lookups plus active lines, quality tallies, match list.
const scanState = new PartitionState(0);
const matcher = new Matcher(hitlists, mask, IXP);
const scratch = new ScanResult();
let matched = 0;
const scan = measure((v) => {
  matched += matcher.scan(v, scanState, scratch).matched;
});

// 3. The whole per-batch path the detector runs before storage.
const engine = new DetectionEngine(new Thresholds({ windows: ['hour', 'day'], thresholds: { hourly: null, daily: null }, classThresholds: {} }), () => null);
const lineIds = new LineIds({ key: 'bench-line-key-0123456789abcdef', rotation: 'none', raw: false, ipv6PrefixLength: 56 });
const processor = new BatchProcessor(hitlists, mask, lineIds, engine, attributor);
const state = new PartitionState(0);
let evidence = 0;
let detections = 0;
const pos = { source: 'bench', src_partition: 0, src_offset: 0 };
const proc = measure((v) => {
  const rows = emptyRows();
  processor.process(v, state, pos, rows);
  evidence += rows.evidence.length;
  detections += rows.detections.length;
});

process.stdout.write(
  `${JSON.stringify(
    {
      node: process.version,
      hitlist: { entries: hl.size, domains: hitlist.domains.length, classes: hitlist.classes.length },
      batches: views.length,
      recordsPerBatch: 4096,
      lines: LINES,
      deployment: IXP ? 'ixp' : 'isp',
      matchShare: MATCH,
      measuredShare: Number((matched / (scan.rounds + 1) / flowsPerRound).toFixed(4)),
      lookupFlowsPerSecond: lookup.flowsPerSecond,
      scanFlowsPerSecond: scan.flowsPerSecond,
      processFlowsPerSecond: proc.flowsPerSecond,
      evidenceRows: evidence,
      detectionRows: detections,
      checksum: sink & 1,
    },
    null,
    1,
  )}\n`,
);
