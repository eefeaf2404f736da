import type { Command } from 'commander';
import { BatchWriter, lossUnit, readRecord } from '@haystack/flow-core';
import { fmtInt } from '@haystack/report';
import { FlowDecoder, NfdumpRecords, sflowState } from '@haystack/decoders';
import {
  exporterHealth,
  samplingFromConfig,
  FileTemplateStore,
  markSubscriberSide,
  isArchive,
  newArchiveStats,
  readArchive,
  type replayCapture,
} from '@haystack/ingest';
import { assemblePipeline } from '@haystack/pipeline';
import { CountingSink } from '@haystack/transport';
import { readUdp } from '@haystack/pcap';
import { parseAddress, PrefixSet } from '@haystack/common';
import { noFlowExports } from '../flow-exports.js';
import { captureFile, intList, listenOptions, listenOverrides, type ListenOptions } from '../args.js';
import { replayProgress } from '../progress.js';
import { action, exitIfLingering, runtime, untilStopped, UserError } from '../runtime.js';

export function registerIngestCommands(program: Command): void {
  listenOptions(program.command('ingest'))
    .description('collect NetFlow v5/v9, IPFIX and sFlow v5 over UDP and publish normalised flow batches (Kafka, or count them when embedded)')
    .action(
      action(async (opts: ListenOptions, cmd: Command) => {
        const { config, log } = runtime(cmd, listenOverrides(opts));
        const counting = config.kafka.brokers.length === 0;
        const p = assemblePipeline({ config, log, ingest: 'listen' });
        await p.start();
        if (counting)
          process.stderr.write(
            'haystack ingest: no kafka.brokers configured: decoding and counting what arrives, publishing nothing; a summary is printed when stopped (Ctrl-C). ' +
              'To detect in this process, run `haystack run`.\n',
          );
        // A part failing for good still gets a clean stop: staged flows and the checkpoint are saved.
        let failure: unknown;
        await untilStopped(log, [p.failed()]).catch((e: unknown) => (failure = e));
        log.info('stopping collector');
        await p.stop();
        if (failure !== undefined) throw failure;
        const counted = counting ? await p.ingestStats() : null;
        if (counted) {
          const c = counted.publisher;
          process.stdout.write(`counted ${c.records} records in ${c.batches} batches (no subscriber side: ${c.noSubscriber})\n`);
          for (const d of exporterHealth(counted))
            process.stdout.write(`  ${d.exporter} v${d.version} domain ${d.domain}: ${d.records} records, ${d.lost} lost, ${d.sequenceGaps} sequence gaps\n`);
        }
        exitIfLingering(log);
      }),
    );

  program
    .command('replay')
    .description('replay a capture of exporter traffic (NetFlow v5/v9, IPFIX, sFlow v5) or an nfdump archive through the ingest pipeline')
    .argument('<file>', 'pcap/pcapng capture (also .gz/.xz/.zst/.bz2), or an nfdump 1.7 archive written by nfcapd/sfcapd')
    .option('--pace <pace>', "full (as fast as possible) or original (the capture's own timing)", 'full')
    .option('--speed <factor>', 'with --pace original: speed-up factor', Number, 1)
    .option('--port <ports>', 'only datagrams to these UDP ports (comma list)', intList)
    .option('--no-progress', 'no progress bar')
    .option('--json', 'print the summary as JSON')
    .action(
      action(async (file: string, opts: { pace: string; speed: number; port?: number[]; progress: boolean; json?: boolean }, cmd: Command) => {
        if (opts.pace !== 'full' && opts.pace !== 'original') throw new UserError('--pace must be "full" or "original"', 2);
        captureFile(file, true);
        const { config, log } = runtime(cmd);
        const p = assemblePipeline({ config, log, ingest: 'replay', metrics: false });
        await p.start();
        const ing = p.ingest!;
        const bar = replayProgress('replay', opts.progress);
        const res = await p.replay(file, {
          pace: opts.pace,
          speed: opts.speed,
          ports: opts.port,
          onProgress: bar.onProgress,
        });
        bar.stop();
        await p.stop();
        const sink = p.sink;
        if (!res.archive) noFlowExports(file, ing.decoder);
        const summary = replaySummary(res, ing.decoder, ing.publisher.counters, sink);
        if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        else process.stdout.write(formatSummary(summary));
      }),
    );

  program
    .command('decode')
    .description(
      'print the flow records of a capture (NetFlow v5/v9, IPFIX, sFlow v5) or an nfdump archive as JSON lines, one per record, to debug an exporter',
    )
    .argument('<file>', 'pcap/pcapng capture (also compressed), or an nfdump 1.7 archive')
    .option('--port <ports>', 'only datagrams to these UDP ports (comma list)', intList)
    .option('--templates <file>', 'start with templates from a saved template state file')
    .option('--stats', 'print decoder counters to stderr at the end')
    .action(
      action(async (file: string, opts: { port?: number[]; templates?: string; stats?: boolean }, cmd: Command) => {
        const { config } = runtime(cmd);
        captureFile(file, true);
        const decoder = new FlowDecoder({ sampling: samplingFromConfig(config) });
        if (opts.templates) {
          const snap = await new FileTemplateStore(opts.templates).load();
          if (!snap) throw new UserError(`no template state in ${opts.templates}`);
          decoder.registry.restore(snap, (t) => parseAddress(t));
        }
        const ports = opts.port?.length ? new Set(opts.port) : null;
        // The subscriber side as ingest would mark it (ingest.subscriberPrefixes).
        const subs = new PrefixSet(config.ingest.subscriberPrefixes);
        const w = new BatchWriter(64);
        const out: string[] = [];
        const flushOut = async () => {
          if (!out.length) return;
          const chunk = out.join('');
          out.length = 0;
          if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once('drain', r));
        };
        if (await isArchive(file)) {
          // An nfdump archive holds flow records, not datagrams: print them as the replay would publish them.
          const stats = newArchiveStats();
          const recs = new NfdumpRecords(decoder.registry);
          let printed = 0;
          for await (const block of readArchive(file, stats)) {
            recs.block(block.data, block.numRecords, w);
            printed += w.count;
            for (let i = 0; i < w.count; i++) {
              markSubscriberSide(w.buf, w.dv, w.offset(i), subs);
              out.push(`${JSON.stringify(readRecord(w.buf, w.dv, i))}\n`);
            }
            w.reset();
            await flushOut();
          }
          if (opts.stats) process.stderr.write(`${JSON.stringify({ archive: { ...stats, ...recs.counters }, ...decoderSummary(decoder) }, null, 2)}\n`);
          // Said as the replay says it; an archive that gave nothing is an error, not an empty success.
          if (stats.corruptBlocks) process.stderr.write(`warning: ${stats.corruptBlocks} blocks could not be decompressed; their records are missing\n`);
          if (printed === 0)
            throw new UserError(
              `${file}: no flow record: ${stats.truncated ? 'the archive ends inside its first block (cut short?)' : stats.blocks === 0 ? 'the archive holds no data block' : 'its blocks hold no flow record with addresses'}`,
              1,
            );
          if (stats.truncated) process.stderr.write('warning: the archive ends inside a block (cut short?): what follows the cut is missing\n');
          return;
        }
        const reader = readUdp(file);
        for await (const d of reader) {
          if (ports && !ports.has(d.dstPort)) continue;
          decoder.decode(d.payload, d.src, d.tsMs === d.tsMs ? d.tsMs : Date.now(), w);
          if (w.count === 0) continue;
          for (let i = 0; i < w.count; i++) {
            markSubscriberSide(w.buf, w.dv, w.offset(i), subs);
            out.push(`${JSON.stringify({ packetIndex: d.index, ...readRecord(w.buf, w.dv, i) })}\n`);
          }
          w.reset();
          if (out.length > 1000) await flushOut();
        }
        await flushOut();
        noFlowExports(file, decoder);
        // How unusual layouts were read (tunnels, packet sections, NSEL, biflows): said once per template.
        for (const d of decoder.registry.all())
          for (const t of d.templates.values())
            for (const note of t.compiled?.notes ?? []) process.stderr.write(`note: ${d.exporterText} domain ${d.domain} template ${t.id}: ${note}\n`);
        if (opts.stats) process.stderr.write(`${JSON.stringify(decoderSummary(decoder), null, 2)}\n`);
      }),
    );
}

export function decoderSummary(decoder: FlowDecoder) {
  return {
    exporters: Object.fromEntries(decoder.exporters),
    domains: [...decoder.registry.all()].map((d) => ({
      exporter: d.exporterText,
      version: d.version,
      domain: d.domain,
      templates: d.templates.size,
      samplingRate: d.defaultRate,
      // Every rate in use: announced per sampler id, exporter-wide, or the configured default.
      samplingRates: [...new Set([...d.samplers.values(), d.announcedRate, d.defaultRate].filter((r) => r > 0))].sort((a, b) => a - b),
      templatesWithoutAddress: [...d.templates.values()].filter((t) => !t.addressed).map((t) => ({ template: t.id, records: t.recordsWithoutAddress })),
      // sFlow agents: the latest generic interface counters of each data source (exporter health).
      ...(sflowState(d) ? { interfaces: [...sflowState(d)!.interfaces.values()] } : {}),
      ...d.counters,
    })),
  };
}

function replaySummary(res: Awaited<ReturnType<typeof replayCapture>>, decoder: FlowDecoder, pub: object, sink: unknown) {
  return {
    datagrams: res.datagrams,
    seconds: Number(res.seconds.toFixed(3)),
    datagramsPerSecond: Math.round(res.datagrams / Math.max(res.seconds, 1e-9)),
    pcap: res.pcap,
    archive: res.archive,
    published: pub,
    partitions: sink instanceof CountingSink ? sink.perPartition : undefined,
    ...decoderSummary(decoder),
  };
}

function formatSummary(s: ReturnType<typeof replaySummary>): string {
  const a = s.archive;
  const n = fmtInt;
  const lines = a
    ? [
        `read an nfdump archive (${a.compression}${a.convertedWith ? `, converted by ${a.convertedWith}` : ''}, ${n(a.blocks)} blocks): ${n(a.flows)} flow records in ${s.seconds} s`,
      ]
    : [`replayed ${n(s.datagrams)} datagrams in ${s.seconds} s (${n(s.datagramsPerSecond)}/s)`];
  if (a?.openFile) lines.push('warning: nfcapd had not closed this archive (still being written?): read up to its last whole block');
  if (a?.truncated) lines.push('warning: the archive ends inside a block (cut short?): what follows the cut is missing');
  if (a?.corruptBlocks) lines.push(`warning: ${n(a.corruptBlocks)} blocks could not be decompressed; their records are missing, the others were read`);
  if (a?.flowsWithoutAddress) lines.push(`${n(a.flowsWithoutAddress)} flow records without addresses (not published)`);
  if (a?.malformedRecords) lines.push(`warning: ${n(a.malformedRecords)} malformed records skipped`);
  if (s.pcap.truncatedFile) lines.push('warning: the capture ends inside a packet record (cut short while being written?): what follows the cut is missing');
  if (s.pcap.truncated) lines.push(`warning: ${n(s.pcap.truncated)} frames were captured shorter than their UDP payload (snap length too small?) and skipped`);
  const p = s.published as Record<string, number>;
  lines.push(
    `published ${n((p.records ?? 0) - (p.droppedBackpressure ?? 0))} records in ${n(p.batches)} batches (no subscriber side: ${n(p.noSubscriber)}, dropped: ${n(p.droppedBackpressure)}, errors: ${n(p.publishErrors)})`,
  );
  if (s.partitions) lines.push(`records per partition: ${s.partitions.map(n).join(' ')}`);
  lines.push('exporter / version / domain: records, templates, rate, missing-template sets, lost, malformed');
  for (const d of s.domains) {
    const rates = d.samplingRates.length ? d.samplingRates.map((r) => `1:${n(r)}`).join(', ') : '1:? (unknown: set ingest.sampling)';
    lines.push(
      `  ${d.exporter} v${d.version} domain ${d.domain}: ${n(d.records)} records, ${n(d.templates)} templates, ${rates}, ${n(d.missingTemplateSets)} missing, ${n(d.lost)} ${lossUnit(d.version)} lost, ${n(d.malformedPackets + d.malformedSets + d.malformedRecords)} malformed`,
    );
    for (const t of d.templatesWithoutAddress)
      if (t.records) lines.push(`    template ${t.template}: ${n(t.records)} records without source/destination addresses (not published)`);
  }
  return `${lines.join('\n')}\n`;
}
