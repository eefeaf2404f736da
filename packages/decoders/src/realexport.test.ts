import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchWriter, openBatch, type FlowRecord, records } from '@haystack/flow-core';
import { spawnSync } from 'node:child_process';
import { PcapWriter, readUdp } from '@haystack/pcap';
import { makeTrafficPcap } from '@haystack/testkit/exporters-traffic';
import { runSoftflowd, runPmacctd, type ExporterRun } from '@haystack/testkit/exporters-run';
import { tsharkDecode, type TsharkFlowRecord } from '@haystack/testkit/tshark';
import { buildV5, FlowDecoder } from './index.js';
import { netflowKey, ourNetflowKey, tsharkTimes } from './testdata/test-keys.js';

/**
 * Real exporters (softflowd, pmacctd + nfprobe) export a synthetic traffic capture; every
 * record our decoder produces is checked against tshark's independent decoding of the
 * same datagrams, frame by frame.
 */
async function ours(capture: string): Promise<{ byFrame: Map<number, FlowRecord[]>; decoder: FlowDecoder }> {
  const dec = new FlowDecoder();
  const byFrame = new Map<number, FlowRecord[]>();
  const w = new BatchWriter();
  for await (const d of readUdp(capture)) {
    dec.decode(d.payload, d.src, d.tsMs, w);
    if (w.count) byFrame.set(d.index, [...records(openBatch(w.finish()))]);
  }
  return { byFrame, decoder: dec };
}

/** tshark's record in the shape of ours (testdata/test-keys.ts, shared with the testdata generator). */
function theirs(t: TsharkFlowRecord, initMs: number | undefined): string {
  return netflowKey({
    src: t.src,
    dst: t.dst,
    srcPort: t.srcPort,
    dstPort: t.dstPort,
    proto: t.protocol,
    packets: t.packets,
    bytes: t.bytes,
    ...tsharkTimes(t, initMs),
  });
}

async function compare(run: ExporterRun, expectRate: number) {
  const [{ byFrame, decoder }, ts] = await Promise.all([ours(run.capturePath), tsharkDecode(run.capturePath, run.collectorPort)]);
  assert.ok(ts.records.length > 50, `tshark decoded ${ts.records.length} records`);
  const initMs = ts.options.find((o) => o.systemInitTimeMs !== undefined)?.systemInitTimeMs;
  const theirByFrame = new Map<number, TsharkFlowRecord[]>();
  for (const r of ts.records) theirByFrame.set(r.frame, [...(theirByFrame.get(r.frame) ?? []), r]);
  let compared = 0;
  for (const [frame, list] of theirByFrame) {
    const mine = byFrame.get(frame) ?? [];
    assert.equal(mine.length, list.length, `frame ${frame}: record count`);
    // Ports are compared for TCP/UDP; ICMP type/code placement differs between exporters' conventions.
    const a = mine.map(ourNetflowKey).sort();
    const b = list.map((t) => theirs(t, initMs)).sort();
    assert.deepEqual(a, b, `frame ${frame}: records differ`);
    compared += list.length;
  }
  // Frames tshark could not decode (template not yet seen by it) must not be more than ours.
  let total = 0;
  for (const l of byFrame.values()) total += l.length;
  assert.ok(total >= compared);
  for (const l of byFrame.values()) for (const r of l) assert.equal(r.samplingRate, expectRate, 'sampling rate carried on every record');
  for (const d of decoder.registry.all()) {
    assert.equal(d.counters.malformedSets + d.counters.malformedRecords + d.counters.malformedPackets, 0);
    assert.equal(d.counters.lost, 0, 'no sequence gaps on loopback');
  }
  return compared;
}

const dir = await mkdtemp(join(tmpdir(), 'hs-realexport-'));
const traffic = join(dir, 'traffic.pcap');
await makeTrafficPcap(traffic, { seed: 7 });

test.after(() => rm(dir, { recursive: true, force: true }));

for (const version of [9, 10] as const) {
  test(`softflowd NetFlow v${version} without sampling matches tshark`, async () => {
    const run = await runSoftflowd({ pcap: traffic, version, capturePath: join(dir, `sf${version}.pcap`) });
    assert.ok((await compare(run, 1)) > 0);
  });
  test(`softflowd NetFlow v${version} with 1:10 sampling matches tshark, rate from options`, async () => {
    const run = await runSoftflowd({ pcap: traffic, version, sampling: 10, capturePath: join(dir, `sf${version}s.pcap`) });
    assert.ok((await compare(run, 10)) > 0);
  });
  test(`pmacctd nfprobe v${version} with sampler options (1:4) matches tshark`, async () => {
    const run = await runPmacctd({ pcap: traffic, version, samplingRate: 4, capturePath: join(dir, `pm${version}.pcap`) });
    assert.ok((await compare(run, 4)) > 0);
  });
}

test('NetFlow v5 AS numbers (record bytes 40-43) as tshark reads them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hs-v5as-'));
  try {
    const path = join(dir, 'v5.pcap');
    const recs = [
      { src: '10.0.0.1', dst: '8.8.8.8', packets: 1, bytes: 60, first: 99_000, last: 99_500, srcPort: 1, dstPort: 53, proto: 17, srcAs: 64500, dstAs: 15169 },
      { src: '10.0.0.2', dst: '1.1.1.1', packets: 2, bytes: 120, first: 99_000, last: 99_500, srcPort: 2, dstPort: 53, proto: 17, srcAs: 65535, dstAs: 13335 },
    ];
    const pkt = buildV5({ uptimeMs: 100_000, exportSecs: 1_763_600_000, sequence: 0 }, recs);
    const pw = await PcapWriter.create(path);
    await pw.writeUdp({ tsMs: 1_763_600_000_000, src: '192.0.2.1', srcPort: 40000, dst: '127.0.0.1', dstPort: 2055, payload: pkt });
    await pw.close();
    const ts = spawnSync('tshark', ['-r', path, '-d', 'udp.port==2055,cflow', '-T', 'fields', '-e', 'cflow.srcas', '-e', 'cflow.dstas'], { encoding: 'utf8' });
    assert.equal(ts.status, 0, ts.stderr);
    const [src, dst] = ts.stdout
      .trim()
      .split('\t')
      .map((x) => x.split(',').map(Number));
    const w = new BatchWriter();
    new FlowDecoder().decode(pkt, '192.0.2.1', 1_763_600_000_000, w);
    const ours = [...records(openBatch(w.finish()))];
    assert.deepEqual(
      ours.map((r) => [r.srcAs, r.dstAs]),
      src!.map((s, i) => [s, dst![i]]),
    );
    assert.deepEqual(src, [64500, 65535]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
