import type { Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { seededRandom } from '@haystack/common';
import { IE, PacketBuilder, type FieldSpec } from '@haystack/flow-core';
import { createIngest, replayCapture } from '@haystack/ingest';
import { PcapWriter } from '@haystack/pcap';
import { action, runtime } from '../runtime.js';
import { CountingSink } from '../sinks.js';
import { decoderSummary } from './ingest.js';

const FLOW: FieldSpec[] = [
  { id: IE.sourceIPv4Address, length: 4 },
  { id: IE.destinationIPv4Address, length: 4 },
  { id: IE.sourceTransportPort, length: 2 },
  { id: IE.destinationTransportPort, length: 2 },
  { id: IE.protocolIdentifier, length: 1 },
  { id: IE.tcpControlBits, length: 1 },
  { id: IE.packetDeltaCount, length: 4 },
  { id: IE.octetDeltaCount, length: 4 },
  { id: IE.flowStartSysUpTime, length: 4 },
  { id: IE.flowEndSysUpTime, length: 4 },
  { id: IE.samplerId, length: 1 },
];


/**
 * A small export capture: two NetFlow v9 exporters (pmacct-style sampler options,
 * 1:100 and 1:1000) sending an hour of subscriber flows toward a few service addresses.
 */
export async function writeDemoCapture(path: string, seed = 1): Promise<{ datagrams: number; records: number }> {
  const rand = seededRandom(seed);
  const w = await PcapWriter.create(path);
  const t0 = Date.UTC(2026, 10, 20, 12, 0, 0);
  const services = ['52.28.10.4', '34.240.1.9', '3.120.55.2', '18.194.7.7', '151.101.1.69'];
  let datagrams = 0;
  let records = 0;
  for (const [e, exporter] of ['192.0.2.1', '192.0.2.2'].entries()) {
    const rate = e === 0 ? 100 : 1000;
    let seq = 0;
    const uptime0 = 86_400_000;
    for (let minute = 0; minute < 60; minute++) {
      const ts = t0 + minute * 60_000;
      const uptime = uptime0 + minute * 60_000;
      const b = new PacketBuilder(9, { domain: e, exportSecs: Math.floor(ts / 1000), sequence: seq++, uptimeMs: uptime });
      if (minute % 10 === 0) {
        b.optionsTemplate(300, [{ id: 1, length: 4 }], [{ id: IE.samplerId, length: 1 }, { id: IE.samplerMode, length: 1 }, { id: IE.samplerRandomInterval, length: 4 }]);
        b.data(300, [[0, 1, 2, rate]]);
        b.template(256, FLOW);
      }
      const rows = [];
      for (let i = 0; i < 27; i++) {
        const line = `100.64.${e}.${Math.floor(rand() * 200) + 1}`;
        const svc = services[Math.floor(rand() * services.length)]!;
        const pk = 1 + Math.floor(rand() * 20);
        const start = uptime - Math.floor(rand() * 60_000);
        rows.push([line, svc, 30000 + Math.floor(rand() * 30000), rand() < 0.7 ? 443 : 8883, 6, 0x18, pk, pk * (60 + Math.floor(rand() * 1400)), start, Math.min(uptime, start + 5000), 1]);
      }
      b.data(256, rows, FLOW);
      records += rows.length;
      await w.writeUdp({ tsMs: ts, src: exporter, srcPort: 50000 + e, dst: '192.0.2.100', dstPort: 2055, payload: b.build() });
      datagrams++;
    }
  }
  await w.close();
  return { datagrams, records };
}

export function registerDemoCommands(program: Command): void {
  program
    .command('demo')
    .description('run the embedded pipeline end to end on generated exports (nothing external needed); prints the summary path last')
    .option('--out <dir>', 'output directory (default <stateDir>/demo)')
    .action(
      action(async (opts: { out?: string }, cmd: Command) => {
        const { config, log } = runtime(cmd);
        const out = resolve(opts.out ?? join(config.stateDir, 'demo'));
        await mkdir(out, { recursive: true });
        const capture = join(out, 'exports.pcap');
        const gen = await writeDemoCapture(capture);
        log.info({ capture, ...gen }, 'wrote demo export capture');
        const sink = new CountingSink(4);
        const ing = await createIngest({ ...config, ingest: { ...config.ingest, subscriberPrefixes: ['100.64.0.0/10'] } }, log, sink, { ports: [], persistTemplates: false });
        const res = await replayCapture(capture, ing.collector, ing.publisher, { pace: 'full' });
        const summary = { capture, datagrams: res.datagrams, published: ing.publisher.counters, partitions: sink.perPartition, ...decoderSummary(ing.decoder) };
        const file = join(out, 'ingest-summary.json');
        await writeFile(file, `${JSON.stringify(summary, null, 2)}\n`);
        process.stdout.write(`decoded ${summary.published.records} flow records from ${res.datagrams} datagrams of ${summary.domains.length} exporters; per partition: ${sink.perPartition.join(' ')}\n`);
        for (const d of summary.domains) process.stdout.write(`  exporter ${d.exporter} v${d.version}: ${d.records} records, sampling 1:${d.samplingRate}, lost ${d.lost}\n`);
        process.stdout.write(`${file}\n`);
      }),
    );
}
