import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchWriter, openBatch, records } from '@haystack/flow-core';
import { readUdp } from '@haystack/pcap';
import { FlowDecoder } from './index.js';
import { ourNetflowKey, ourSflowKey, type Expected } from './testdata/test-keys.js';

/**
 * Real exporters' output kept beside the decoders (testdata/, made by
 * src/testdata/test-generate.ts with softflowd, pmacctd's nfprobe and sfprobe, and tshark):
 * every record we decode must be the one tshark decoded from the same frame, with the rate the
 * exporter announced; nothing malformed, nothing lost. No exporter or tshark needed to run.
 */
const dir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'testdata');
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.slice(0, -5))
  .sort();

test('testdata holds a capture of each exporter the tests run', () => {
  assert.deepEqual(names, ['nfprobe-ipfix-sampled', 'nfprobe-v9-sampled', 'sfprobe-sflow', 'softflowd-ipfix-sampled', 'softflowd-v9']);
});

for (const name of names) {
  const expected = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Expected;
  test(`${name}: decodes frame by frame as tshark did (${expected.made})`, async () => {
    const dec = new FlowDecoder();
    const w = new BatchWriter();
    const ours = new Map<number, string[]>();
    let frames = 0;
    for await (const d of readUdp(join(dir, `${name}.pcap`))) {
      frames++;
      assert.equal(d.dstPort, expected.port);
      dec.decode(d.payload, d.src, d.tsMs, w);
      if (w.count === 0) continue;
      const recs = [...records(openBatch(w.finish()))];
      for (const r of recs) assert.equal(r.samplingRate, expected.rate, `frame ${d.index}: the announced rate on every record`);
      ours.set(d.index, recs.map(expected.kind === 'sflow' ? ourSflowKey : ourNetflowKey).sort());
    }
    assert.ok(frames > 10, `${frames} frames`);
    const theirs = Object.entries(expected.frames);
    assert.ok(theirs.length > 10, 'tshark decoded records in more than ten frames');
    for (const [frame, keys] of theirs) assert.deepEqual(ours.get(Number(frame)) ?? [], keys, `frame ${frame}`);
    // Nothing tshark did not see: every frame with records of ours is one tshark decoded too.
    for (const [frame, keys] of ours) if (!expected.frames[frame]) assert.fail(`frame ${frame}: ${keys.length} records tshark did not decode`);
    for (const d of dec.registry.all()) {
      const c = d.counters;
      assert.equal(c.malformedPackets + c.malformedSets + c.malformedRecords, 0, 'nothing malformed');
      assert.equal(c.lost + c.samplesLost, 0, 'nothing lost: the datagrams are consecutive');
    }
  });
}
