import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { loadRules } from '@haystack/rules';
import { readAllUdp } from '@haystack/pcap';
import { simulate, UdpSink, type SimOptions } from './index.js';
import { rulesDir, tempDir } from './test-support.js';

/**
 * `--udp HOST:PORT --rate R`: the same datagrams as the pcap, in the same order, each
 * exporter from its own loopback address; only loopback destinations are accepted.
 */
const O: Partial<SimOptions> = { lines: 60, hours: 1, exporters: 3, sampling: [50], seed: 9, rulesDir };

test('UDP output sends the pcap datagrams, in order, one loopback source address per exporter', async () => {
  const t = tempDir();
  const rx = createSocket('udp4');
  try {
    const got: { from: string; payload: Buffer }[] = [];
    rx.on('message', (m, r) => got.push({ from: r.address, payload: Buffer.from(m) }));
    await new Promise<void>((res) => rx.bind(0, '127.0.0.1', () => res()));
    rx.setRecvBufferSize(8 * 1024 * 1024);
    const port = rx.address().port;
    const dict = loadRules(rulesDir);
    const viaUdp = await simulate(O, { dir: join(t.dir, 'udp'), udp: { host: '127.0.0.1', port, rate: 200_000 } }, dict);
    await simulate(O, { dir: join(t.dir, 'pcap') }, dict);
    assert.ok(!viaUdp.files.includes('exports.pcap'));
    // Loopback delivery is synchronous, but give the event loop a bounded moment to hand them over.
    for (let i = 0; i < 200 && got.length < viaUdp.messages; i++) await new Promise((r) => setTimeout(r, 10));
    const { datagrams } = await readAllUdp(join(t.dir, 'pcap', 'exports.pcap'));
    assert.equal(got.length, datagrams.length);
    assert.equal(got.length, viaUdp.messages);
    const sourceOf = new Map<string, string>();
    got.forEach((g, i) => {
      const d = datagrams[i]!;
      assert.ok(g.payload.equals(d.payload), `datagram ${i + 1} differs`);
      const prev = sourceOf.get(d.src);
      assert.ok(prev === undefined || prev === g.from, `exporter ${d.src} sent from two addresses`);
      sourceOf.set(d.src, g.from);
    });
    assert.deepEqual([...sourceOf].sort(), [
      ['192.0.2.11', '127.0.0.2'],
      ['192.0.2.12', '127.0.0.3'],
      ['192.0.2.13', '127.0.0.4'],
    ]);
  } finally {
    rx.close();
    t.cleanup();
  }
});

test('UDP output refuses destinations that are not this machine', () => {
  assert.throws(() => new UdpSink('192.0.2.100', 2055, 0), /this machine only/);
  assert.throws(() => new UdpSink('10.1.2.3', 2055, 0), /this machine only/);
  assert.doesNotThrow(() => new UdpSink('127.0.0.1', 2055, 0));
});
