import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfig, silentLogger } from '@haystack/common';
import { openBatch } from '@haystack/flow-core';
import type { FlowSink } from '@haystack/transport';
import { createIngest } from './service.js';
import { replayCapture } from './replay.js';

const capture = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'packages', 'decoders', 'testdata', 'softflowd-v9.pcap');

/**
 * A flow topic of 64 partitions whose broker answers each produce a second later: longer than
 * the capture takes to read, so every batch of it is out at once.
 */
class SlowTopic implements FlowSink {
  readonly partitions = 64;
  records = 0;
  async publish(_p: number, batch: Buffer): Promise<void> {
    await new Promise((r) => setTimeout(r, 1_000));
    this.records += openBatch(batch).count;
  }
  async close(): Promise<void> {}
}

test('a replay into a topic of many partitions that lags publishes every record of the capture: none dropped for backpressure', async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'hs-replay-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const cfg = defaultConfig();
  cfg.stateDir = stateDir;
  cfg.ingest.subscriberPrefixes = ['10.0.0.0/8', '192.168.0.0/16', '172.16.0.0/12'];
  cfg.ingest.batch.maxRecords = 2; // ~300 batches: more than may be in flight at once (4 per partition)
  const replay = async (asReplay: boolean) => {
    const sink = new SlowTopic();
    const ing = await createIngest(cfg, silentLogger, sink, { ports: [], replay: asReplay, persistTemplates: false, health: false });
    await replayCapture(capture, ing.collector, ing.publisher, { pace: 'full' });
    return { published: sink.records, c: ing.publisher.counters };
  };
  // The publisher as live collection configures it drops here: the case is real.
  const live = await replay(false);
  assert.ok(live.c.droppedBackpressure > 0, `live settings dropped ${live.c.droppedBackpressure}`);
  const r = await replay(true);
  assert.ok(r.c.records > 500, `${r.c.records} records decoded`);
  assert.equal(r.c.droppedBackpressure, 0);
  assert.equal(r.published, r.c.records, 'every decoded record reached the topic');
});
