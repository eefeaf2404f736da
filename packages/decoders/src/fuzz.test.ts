import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LIMITS } from './index.js';
import { PcapWriter } from '@haystack/pcap';
import { maxPlausibleGap } from './index.js';
import { runFuzz, builtinCorpus, MUTATORS, type FuzzReport } from './fuzz/fuzz.js';

const describe = (r: FuzzReport) =>
  `seed ${r.seed}: ${r.iterations} packets, ${r.packetsPerSecond}/s, records ${r.records}, heap ${r.memory.heapStartMb} → ${r.memory.heapEndMb} MB ` +
  `(peak ${r.memory.peakHeapMb}, RSS ${r.memory.peakRssMb}), domains ${r.domains}, templates ${r.templates}, held ${r.heldSets}, ` +
  `anomalies ${r.anomalies}, slowest ${r.slowest.ms} ms`;

test('fuzz: 1,000,000 mutated packets through one long-lived decoder: no faults, state and memory bounded', { timeout: 600_000 }, (t) => {
  const r = runFuzz({ seed: 0x5eed, iterations: 1_000_000 });
  t.diagnostic(describe(r));
  t.diagnostic(`counters ${JSON.stringify(r.counters)}`);
  t.diagnostic(`exporters ${JSON.stringify(r.exporters)}`);

  // The decoder never faulted, never threw, and every record it wrote was stamped right.
  assert.equal(r.decoderErrors, 0, JSON.stringify(r.failures.slice(0, 3)));
  assert.deepEqual(r.failures, []);
  assert.equal(r.iterations, 1_000_000);
  assert.equal(r.exporters.packets, 1_000_000);

  // Valid structure survives: records were decoded all along, options applied, held sets replayed.
  assert.ok(r.records > 1_000_000, `records ${r.records}`);
  assert.equal(r.counters.records, r.records);
  assert.ok(r.counters.optionsRecords > 0);
  assert.ok(r.counters.heldDecodedSets > 0);

  // The mutations were exercised: every mutator ran, and every way of refusing input was hit.
  for (const m of MUTATORS) assert.ok(r.mutations[m] > 10_000, `mutator ${m} ran ${r.mutations[m]} times`);
  for (const k of [
    'templatesRejected',
    'templatesChanged',
    'templatesWithdrawn',
    'malformedPackets',
    'malformedSets',
    'malformedRecords',
    'missingTemplateSets',
    'heldDroppedSets',
    'sequenceGaps',
  ] as const) {
    assert.ok(r.counters[k] > 0, `${k} never counted`);
  }
  assert.ok(r.exporters.malformedPackets > 0);
  assert.ok(r.exporters.unknownVersion > 0);

  // Bounded: registry within its limits, retained heap (after a full GC) far from runaway.
  assert.ok(r.domains <= DEFAULT_LIMITS.maxDomains);
  assert.ok(r.maxTemplatesInDomain <= DEFAULT_LIMITS.maxTemplatesPerDomain);
  assert.ok(r.maxHeldInDomain <= DEFAULT_LIMITS.maxHeldSets);
  assert.ok(r.memory.heapGrowthMb < 200, `heap grew ${r.memory.heapGrowthMb} MB`);
  // Mutated sequence numbers are resets, not losses: "lost" is bounded by the plausible gap per packet.
  // The fuzz clock moves 1-21 ms per packet (now and then 120 s): a gap may count at most what the
  // elapsed time allows, so on average a gap stays near the floor, never the billions a corrupted number once gave.
  const perGap = r.counters.lost / Math.max(1, r.counters.sequenceGaps);
  assert.ok(perGap <= maxPlausibleGap(10, 0, 0), `lost ${r.counters.lost} over ${r.counters.sequenceGaps} gaps: ${perGap} per gap`);
});

test('fuzz is deterministic: the same seed gives the same run', { timeout: 120_000 }, () => {
  const strip = (r: FuzzReport) => ({
    records: r.records,
    counters: r.counters,
    exporters: r.exporters,
    mutations: r.mutations,
    domains: r.domains,
    templates: r.templates,
    heldSets: r.heldSets,
    anomalies: r.anomalies,
    pristine: r.pristine,
  });
  const a = runFuzz({ seed: 42, iterations: 30_000 });
  const b = runFuzz({ seed: 42, iterations: 30_000 });
  const c = runFuzz({ seed: 43, iterations: 30_000 });
  assert.deepEqual(strip(a), strip(b));
  assert.notDeepEqual(strip(a), strip(c));
});

test('fuzz: UDP payloads of pcap files join the corpus; a small decoder limit is respected', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'haystack-fuzz-'));
  try {
    const file = join(dir, 'exports.pcap');
    const w = await PcapWriter.create(file);
    const builtin = builtinCorpus();
    // The built-in packets from other exporter addresses, plus a DNS datagram that is not a flow export.
    for (const [i, e] of builtin.entries()) {
      await w.writeUdp({ tsMs: 1_700_000_000_000 + i, src: `198.18.0.${i + 1}`, srcPort: 9995, dst: '198.18.1.1', dstPort: 2055, payload: e.packet });
    }
    await w.writeUdp({
      tsMs: 1_700_000_001_000,
      src: '198.18.0.99',
      srcPort: 53,
      dst: '198.18.1.1',
      dstPort: 5353,
      payload: Buffer.from('0001010000010000000000000377777700', 'hex'),
    });
    await w.close();
    const r = runFuzz({ seed: 7, iterations: 50_000, corpus: [file], limits: { maxDomains: 32 } });
    assert.equal(r.corpusSize, builtin.length * 2);
    assert.deepEqual(r.failures, []);
    assert.equal(r.decoderErrors, 0);
    assert.equal(r.domains, 32);
    assert.ok(r.refusedDomains > 0);
    assert.ok(r.records > 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
