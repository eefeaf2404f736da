import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfig, silentLogger } from '@haystack/common';
import { openBatch } from '@haystack/flow-core';
import { PcapWriter, readUdpSync } from '@haystack/pcap';
import type { FlowSink } from '@haystack/transport';
import { collectWithNfcapd } from '@haystack/testkit/nfcapd';
import { createIngest } from './service.js';
import { replayCapture } from './replay.js';

const capture = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'packages', 'decoders', 'testdata', 'softflowd-v9.pcap');

/**
 * A flow topic of 64 partitions whose broker answers each produce `latencyMs` later; it notes
 * the most produces it ever had outstanding.
 */
class SlowTopic implements FlowSink {
  readonly partitions = 64;
  records = 0;
  outstanding = 0;
  peak = 0;
  constructor(private readonly latencyMs: number) {}
  async publish(_p: number, batch: Buffer): Promise<void> {
    this.peak = Math.max(this.peak, ++this.outstanding);
    await new Promise((r) => setTimeout(r, this.latencyMs));
    this.outstanding--;
    this.records += openBatch(batch).count;
  }
  async close(): Promise<void> {}
}

test('a replay into a topic of many partitions that lags publishes every record of the capture, holding back instead of dropping', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hs-replay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // The real capture's 23 datagrams, 20 times over: 460 datagrams, ~12,000 records.
  const big = join(dir, 'softflowd-v9-x20.pcap');
  const w = await PcapWriter.create(big);
  const datagrams = [...readUdpSync(readFileSync(capture))];
  for (let round = 0; round < 20; round++)
    for (const d of datagrams) await w.writeUdp({ tsMs: d.tsMs, src: d.src, srcPort: d.srcPort, dst: d.dst, dstPort: d.dstPort, payload: d.payload });
  await w.close();

  const cfg = defaultConfig();
  cfg.stateDir = dir;
  cfg.ingest.subscriberPrefixes = ['10.0.0.0/8', '192.168.0.0/16', '172.16.0.0/12'];
  cfg.ingest.batch.maxRecords = 2; // a dozen batches a datagram: far more than may be in flight (4 per partition, 256)
  const replay = async (file: string, asReplay: boolean, latencyMs: number) => {
    const sink = new SlowTopic(latencyMs);
    const ing = await createIngest(cfg, silentLogger, sink, { ports: [], replay: asReplay, persistTemplates: false, health: false });
    const res = await replayCapture(file, ing.collector, ing.publisher, { pace: 'full' });
    return { res, sink, c: ing.publisher.counters };
  };
  // The publisher as live collection configures it drops here (every batch of the small capture is
  // out within the second the topic takes to answer): the case is real.
  const live = await replay(capture, false, 1_000);
  assert.ok(live.c.droppedBackpressure > 0, `live settings dropped ${live.c.droppedBackpressure}`);

  const r = await replay(big, true, 20);
  assert.equal(r.res.datagrams, 460);
  assert.ok(r.c.records > 10_000, `${r.c.records} records decoded`);
  assert.equal(r.c.droppedBackpressure, 0);
  assert.equal(r.sink.records, r.c.records, 'every decoded record reached the topic');
  // Held back per datagram: the limit, one datagram's batches and one final batch per partition at most.
  assert.ok(r.sink.peak <= 256 + 20 + 64, `at most ${r.sink.peak} produces outstanding`);
});

test('a replay of an nfdump archive (nfcapd, real) into a topic that lags drops nothing either: the archive path waits per block', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hs-replay-nf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const archive = await collectWithNfcapd({ capture, compression: 'lz4', dir });
  const cfg = defaultConfig();
  cfg.stateDir = dir;
  cfg.ingest.subscriberPrefixes = ['10.0.0.0/8', '192.168.0.0/16', '172.16.0.0/12'];
  cfg.ingest.batch.maxRecords = 2;
  const replay = async (asReplay: boolean) => {
    const sink = new SlowTopic(1_000);
    const ing = await createIngest(cfg, silentLogger, sink, { ports: [], replay: asReplay, persistTemplates: false, health: false });
    const res = await replayCapture(archive, ing.collector, ing.publisher, { pace: 'full' });
    return { res, sink, c: ing.publisher.counters };
  };
  const live = await replay(false);
  assert.ok(live.res.archive, 'read as an nfdump archive');
  assert.ok(live.c.droppedBackpressure > 0, `live settings dropped ${live.c.droppedBackpressure}`);
  const r = await replay(true);
  assert.ok(r.c.records > 500, `${r.c.records} records read`);
  assert.equal(r.c.droppedBackpressure, 0);
  assert.equal(r.sink.records, r.c.records, 'every record of the archive reached the topic');
});
