import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchWriter, openBatch, PROTOCOL, type FlowRecord, records } from '@haystack/flow-core';
import { readUdp } from '@haystack/pcap';
import { makeTrafficPcap } from '@haystack/testkit/exporters-traffic';
import { runSfprobe, type ExporterRun } from '@haystack/testkit/exporters-run';
import { tsharkSflow } from '@haystack/testkit/tshark-sflow';
import { FlowDecoder } from './index.js';

/**
 * A real sFlow agent (pmacctd's sfprobe plugin) samples a capture; every flow sample our
 * decoder turns into a record is checked against tshark's sFlow dissector of the same
 * datagram, field by field, in order.
 */
async function ours(capture: string): Promise<{ byFrame: Map<number, FlowRecord[]>; decoder: FlowDecoder }> {
  const dec = new FlowDecoder();
  const byFrame = new Map<number, FlowRecord[]>();
  const w = new BatchWriter();
  for await (const d of readUdp(capture)) {
    dec.decode(d.payload, d.src, d.tsMs, w);
    byFrame.set(d.index, [...records(openBatch(w.finish()))]);
  }
  return { byFrame, decoder: dec };
}

async function compare(run: ExporterRun, rate: number, agent: string, subAgent: number): Promise<number> {
  const [{ byFrame, decoder }, theirs] = await Promise.all([ours(run.capturePath), tsharkSflow(run.capturePath, run.collectorPort)]);
  assert.ok(theirs.length > 20, `tshark decoded ${theirs.length} flow samples`);
  const theirByFrame = new Map<number, typeof theirs>();
  for (const s of theirs) theirByFrame.set(s.frame, [...(theirByFrame.get(s.frame) ?? []), s]);
  let compared = 0;
  let withoutIp = 0;
  for (const [frame, samples] of theirByFrame) {
    const mine = byFrame.get(frame) ?? [];
    // Samples without an IP packet (ARP, LLDP) are counted, not published.
    const ipSamples = samples.filter((s) => s.src !== undefined);
    withoutIp += samples.length - ipSamples.length;
    assert.equal(mine.length, ipSamples.length, `frame ${frame}: records`);
    ipSamples.forEach((t, i) => {
      const r = mine[i]!;
      const ports = t.proto === 6 || t.proto === 17;
      assert.deepEqual(
        [
          r.src,
          r.dst,
          r.proto,
          ports ? r.srcPort : '-',
          ports ? r.dstPort : '-',
          r.bytes,
          r.packets,
          r.samplingRate,
          r.srcMac,
          r.dstMac,
          r.exporter,
          r.observationDomain,
        ],
        [t.src, t.dst, t.proto, ports ? t.srcPort : '-', ports ? t.dstPort : '-', t.frameLength, 1, t.samplingRate, t.srcMac, t.dstMac, t.agent, t.subAgent],
        `frame ${frame} sample ${i}`,
      );
      assert.equal(r.flowVersion, PROTOCOL.sflow5);
      compared++;
    });
  }
  const d = [...decoder.registry.all()];
  assert.equal(d.length, 1, 'one agent/sub-agent');
  assert.equal(d[0]!.exporterText, agent);
  assert.equal(d[0]!.domain, subAgent);
  const c = d[0]!.counters;
  assert.equal(c.malformedPackets + c.malformedRecords + c.malformedSets, 0);
  assert.equal(c.lost + c.samplesLost, 0, 'nothing lost on loopback');
  assert.equal(c.recordsWithoutAddress, withoutIp);
  assert.equal(c.records, compared);
  assert.ok(rate >= 1);
  return compared;
}

const dir = await mkdtemp(join(tmpdir(), 'hs-sflow-real-'));
const traffic = join(dir, 'traffic.pcap');
await makeTrafficPcap(traffic, { seed: 11, flows: 120 });
test.after(() => rm(dir, { recursive: true, force: true }));

test('pmacctd sfprobe (1:1) over IPv4+IPv6 traffic decodes as tshark does', async () => {
  const run = await runSfprobe({ pcap: traffic, samplingRate: 1, agentIp: '192.0.2.7', subAgent: 3, capturePath: join(dir, 'sf1.pcap') });
  assert.ok((await compare(run, 1, '192.0.2.7', 3)) > 500);
});

test('pmacctd sfprobe (1:8) carries the rate on every record, never multiplied in', async () => {
  const run = await runSfprobe({ pcap: traffic, samplingRate: 8, agentIp: '198.51.100.9', capturePath: join(dir, 'sf8.pcap') });
  assert.ok((await compare(run, 8, '198.51.100.9', 0)) > 20);
});

const device = '../../../../shared/captures/iot-sentinel/WeMoSwitch2/Setup-C-1-STA.pcap';
const devicePath = new URL(device, import.meta.url).pathname;
test('pmacctd sfprobe over a real IoT device capture (broadcasts, DHCP, ARP) decodes as tshark does', async () => {
  assert.ok(existsSync(devicePath), `the device captures are expected beside the checkout: ${devicePath}`);
  const run = await runSfprobe({ pcap: devicePath, samplingRate: 1, agentIp: '192.0.2.7', capturePath: join(dir, 'dev.pcap') });
  assert.ok((await compare(run, 1, '192.0.2.7', 0)) > 10);
});
