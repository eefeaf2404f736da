import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadRules } from '@haystack/rules';
import { buildWorld, decodeCapture, simulate, type SimOptions } from './index.js';
import { readJson, rulesDir, tempDir } from './test-support.js';

/**
 * Sampling statistics: with 1:N the sampled packets the exports carry are the unsampled
 * packets divided by N, within what the sampling itself explains. Random 1:N keeps each
 * packet with probability 1/N, so the sampled total is binomial around U/N: within six
 * standard deviations. Deterministic 1-in-N (a phase per stream, carried across hours; a
 * random phase per short flow) misses U/N by less than one packet per stream plus a zero-mean
 * error of at most ±1 per short flow: within streams + 6·sqrt(flows)/2.
 */
interface WorldExporter {
  index: number;
  address: string;
  sampling: number;
  sampledPackets: number;
  unsampledPackets: number;
}

const O: Partial<SimOptions> = { lines: 300, hours: 4, exporters: 2, protocol: 'ipfix', sampling: [10, 20], ipv6Share: 0.3, seed: 21, rulesDir };

async function run(mode: 'random' | 'deterministic') {
  const t = tempDir();
  try {
    const dict = loadRules(rulesDir);
    const s = await simulate({ ...O, samplingMode: mode }, { dir: t.dir }, dict);
    const world = readJson<{ exporters: WorldExporter[]; traffic: { backgroundFlows: number[] } }>(join(t.dir, 'world.json'));
    const packets = new Map<string, number>();
    const rates = new Map<string, Set<number>>();
    await decodeCapture(join(t.dir, 'exports.pcap'), (f) => {
      packets.set(f.exporter, (packets.get(f.exporter) ?? 0) + f.packets);
      const r = rates.get(f.exporter) ?? new Set<number>();
      r.add(f.sampling);
      rates.set(f.exporter, r);
      return false;
    });
    const w = buildWorld({ ...O, samplingMode: mode }, dict);
    const streamsOf = new Array(world.exporters.length).fill(0);
    for (let i = 0; i < w.pop.streams.count; i++) streamsOf[w.pop.lines.exporter[w.pop.devices.line[w.pop.streams.device[i]!]!]!]++;
    return { s, world, packets, rates, streamsOf };
  } finally {
    t.cleanup();
  }
}

test('random 1:N: sampled packets are within six standard deviations of unsampled/N', async () => {
  const { s, world, packets, rates } = await run('random');
  for (const e of world.exporters) {
    const K = packets.get(e.address)!;
    assert.deepEqual([...rates.get(e.address)!], [e.sampling]);
    // What the decoder reads is exactly what the generator sampled.
    assert.equal(K, e.sampledPackets);
    assert.equal(K, s.totals.sampled[e.index]);
    const mean = e.unsampledPackets / e.sampling;
    const sd = Math.sqrt(mean * (1 - 1 / e.sampling));
    assert.ok(mean > 10_000, `too little traffic to test (${mean})`);
    assert.ok(Math.abs(K - mean) <= 6 * sd, `exporter ${e.index} 1:${e.sampling}: sampled ${K}, unsampled/N ${mean.toFixed(0)}, sd ${sd.toFixed(1)}`);
  }
});

test('deterministic 1-in-N: sampled packets miss unsampled/N by less than the phase rounding allows', async () => {
  const { world, packets, streamsOf } = await run('deterministic');
  for (const e of world.exporters) {
    const K = packets.get(e.address)!;
    assert.equal(K, e.sampledPackets);
    const target = e.unsampledPackets / e.sampling;
    const bound = streamsOf[e.index] + 3 * Math.sqrt(world.traffic.backgroundFlows[e.index]!);
    assert.ok(bound < 0.05 * target, `bound ${bound} too loose for ${target} to mean anything`);
    assert.ok(Math.abs(K - target) <= bound, `exporter ${e.index} 1:${e.sampling}: sampled ${K}, unsampled/N ${target.toFixed(0)}, bound ${bound.toFixed(0)}`);
  }
});
