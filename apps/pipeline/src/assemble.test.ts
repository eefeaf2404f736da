import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfig, silentLogger } from '@haystack/common';
import type { DetectorStorage, StoredDayState } from '@haystack/detector';
import { MemoryHitlistStore } from '@haystack/hitlist-contract';
import type { DetectorRows } from '@haystack/store';
import { assemblePipeline } from './assemble.js';

/** Counts what the detector would store (no ClickHouse needed for the assembly itself). */
class CountingStorage implements DetectorStorage {
  lineDays = 0;
  async ensureSchema(): Promise<void> {}
  async insert(rows: DetectorRows): Promise<void> {
    this.lineDays += rows.lineDays.length;
  }
  async loadDayState(): Promise<StoredDayState> {
    return { evidence: [], detections: [] };
  }
}

const capture = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'packages', 'decoders', 'testdata', 'softflowd-v9.pcap');

test('a replay pipeline is assembled from the services’ components: each reports its health, the parts are reachable', async (t) => {
  const config = defaultConfig();
  config.stateDir = mkdtempSync(join(tmpdir(), 'hs-pipeline-'));
  t.after(() => rmSync(config.stateDir, { recursive: true, force: true }));
  config.ingest.subscriberPrefixes = ['10.0.0.0/8', '192.168.0.0/16', '172.16.0.0/12'];
  config.detector.rawLineIds = true;
  const storage = new CountingStorage();
  const p = assemblePipeline({
    config,
    log: silentLogger,
    ingest: 'replay',
    detect: true,
    embedded: true,
    metrics: false,
    detectorStorage: storage,
    hitlists: new MemoryHitlistStore(),
  });
  assert.deepEqual(p.lifecycle.names, ['hitlists', 'transport', 'detector', 'sink', 'ingest', 'metrics']);
  await p.start();
  try {
    const res = await p.replay(capture);
    assert.ok(res.datagrams > 10);
  } finally {
    await p.stop();
  }
  const h = p.health();
  assert.deepEqual(Object.keys(h).sort(), ['detector', 'ingest']);
  assert.equal(h.ingest!.ok, true);
  assert.equal(h.ingest!.detail.mode, 'replay');
  assert.ok((h.ingest!.detail.recordsPublished as number) > 100, JSON.stringify(h.ingest));
  assert.equal(h.detector!.ok, true);
  assert.equal(h.detector!.detail.flows, h.ingest!.detail.recordsPublished, 'every published flow reached the detector');
  assert.ok(storage.lineDays > 0, 'the detector stored active lines through the storage it was given');
  assert.equal(p.store, undefined, 'no ClickHouse opened when the detector was given its storage');
});
