import { fmtInt } from '@haystack/report';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { HaystackConfig, Logger } from '@haystack/common';
import type { DetectorStats } from '@haystack/detector';
import { captureId, isArchive } from '@haystack/ingest';
import { assemblePipeline, replayIntoStore, type Pipeline } from '@haystack/pipeline';
import { openStore } from '@haystack/store';
import { captureFile, positiveInt } from '../args.js';
import { replayProgress } from '../progress.js';
import { action, exitIfLingering, runtime, untilStopped, UserError } from '../runtime.js';
import { checkFlowExports, noFlowExports } from '../flow-exports.js';

function summary(s: DetectorStats): string {
  const n = fmtInt;
  return (
    `detector: ${n(s.batches)} batches, ${n(s.flows)} flows, ${n(s.matched)} matched, ${n(s.detections.day)} daily and ${n(s.detections.hour)} hourly detections ` +
    `(+${n(s.impliedDetections)} implied), ${n(s.noHitlist)} flows without a hitlist, ${n(s.unknownSampling)} with unknown sampling, ` +
    `${n(s.undecodable)} undecodable batches, ${n(s.insertRetries)} insert retries\n` +
    (s.detections.day === 0 && s.storedEvidenceLoaded > 0
      ? 'this capture was already stored by an earlier run: its flows and detections count once, so nothing is new\n'
      : '')
  );
}

export function registerDetectCommands(program: Command): void {
  program
    .command('detect')
    .description(
      'detect IoT devices per subscriber line (at an IXP, deployment: ixp, per host behind each member network): consume flow batches (Kafka consumer group), match the hitlist, store evidence and detections in ClickHouse',
    )
    .option('--replay <file>', 'embedded: replay a pcap/pcapng of exporter traffic through ingest and the detector in this process, then exit')
    .option('--concurrency <n>', 'partitions handled at once (default detector.concurrency)', positiveInt)
    .option('--metrics-listen <host:port>', 'metrics endpoint (default metrics.listen)')
    .option('--json', 'with --replay: print the summary as JSON')
    .addHelpText(
      'after',
      `
Distributed (kafka.brokers set): joins kafka.consumerGroup on kafka.flowTopic, hitlists from Redis
(redis.url) or the hitlist day directories, ClickHouse at clickhouse.url (or embedded chdb under
<stateDir>/chdb). A new group starts at the earliest retained batch. Up to 32 batches per
partition are processed while earlier ones are being stored (one insert carries many); a
position is committed only once its batch and all before it are stored. Runs until
SIGINT/SIGTERM: batches in flight are stored and committed, the rest are delivered again to the
next member. A consumer the Kafka client gives up on is replaced after back-off; an error no
restart fixes (e.g. authorization) makes the command exit 1 for its supervisor to act on.
detector.lineKey (HAYSTACK_DETECTOR__LINE_KEY) is required with Kafka.

Embedded (no kafka.brokers): --replay FILE runs ingest → in-process bus → detector on a capture.

At an IXP (deployment: ixp): the unit is the host at the end of a flow that is not on the hitlist
(an IPv4 address, an IPv6 /64 by default: ixp.hostPrefixLength6), attributed to a member by
router MAC (ixp.memberExport), flow AS or the route table (ixp.routeTable);
ingest.subscriberPrefixes is not used.

Metrics (/metrics): haystack_detector_{batches,flows,flows_taken_in,flows_matched,detections,
undecodable_batches,insert_retries,...}_total (flows_taken_in - flows = the storage backlog).`,
    )
    .action(
      action(async (opts: { replay?: string; concurrency?: number; metricsListen?: string; json?: boolean }, cmd: Command) => {
        const { config, log } = runtime(cmd, {
          ...(opts.concurrency !== undefined && { detector: { concurrency: opts.concurrency } }),
          ...(opts.metricsListen && { metrics: { listen: opts.metricsListen } }),
        });
        const kafka = config.kafka.brokers.length > 0;
        if (!kafka && !opts.replay)
          throw new UserError(
            'no flows to detect on: set kafka.brokers (HAYSTACK_KAFKA__BROKERS) to consume from Kafka, or give --replay FILE to run a capture through ingest and the detector here',
            2,
          );
        if (kafka && opts.replay) throw new UserError('--replay runs embedded: it cannot be combined with kafka.brokers', 2);
        if (opts.replay) captureFile(opts.replay, true);
        if (kafka) await runDistributed(config, log);
        else await runReplay(config, log, opts.replay!, !!opts.json);
      }),
    );
}

async function runDistributed(config: HaystackConfig, log: Logger): Promise<void> {
  const p = assemblePipeline({ config, log, detect: true });
  try {
    await p.start();
    await untilStopped(log, [p.failed()]);
  } finally {
    log.info('stopping detector');
    await p.stop();
    if (p.detector) process.stderr.write(summary(p.detector.stats()));
  }
  exitIfLingering(log);
}

async function runReplay(config: HaystackConfig, log: Logger, file: string, json: boolean): Promise<void> {
  if (!(await isArchive(file))) await checkFlowExports(file);
  // Ctrl-C (or SIGTERM): stop reading, store what was read, say so and exit non-zero. The same
  // signal often arrives twice at once (the process group and the launcher passing it on): a
  // repeat within 5 s is ignored, a later one stops at once.
  let pipeline: Pipeline | undefined;
  let interruptedAt = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interruptedAt) {
      if (Date.now() - interruptedAt < 5000) return;
      process.stderr.write('haystack: second signal: exiting without storing the batches in flight\n');
      process.exit(sig === 'SIGINT' ? 130 : 143);
    }
    interruptedAt = Date.now();
    process.stderr.write('interrupted: storing the flows read so far, then stopping\n');
    pipeline?.interrupt();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const store = await openStore(config);
  const bar = replayProgress('detect');
  try {
    const { result: res, pipeline: p } = await replayIntoStore({
      config,
      log,
      store,
      file,
      replayId: await captureId(file),
      onPipeline: (x) => (pipeline = x),
      replay: { onProgress: bar.onProgress },
    });
    bar.stop();
    if (res.interrupted) {
      const share = res.totalBytes ? ` (${Math.round((100 * res.bytesRead) / res.totalBytes)} % of the file)` : '';
      process.stderr.write(
        `haystack: interrupted after ${fmtInt(res.datagrams)} datagrams${share}: what was read is stored; ${file} is only partly replayed: run the same command again to complete it\n`,
      );
      process.exitCode = 130;
      return;
    }
    if (!res.archive && res.alreadyStored === 0) noFlowExports(file, p.ingest!.decoder);
    const s = p.detector!.stats();
    if (s.noHitlist > 0)
      process.stderr.write(
        `warning: ${fmtInt(s.noHitlist)} of ${fmtInt(s.flows)} flows had no hitlist for their day (hitlists loaded: ${s.hitlistDays.join(', ') || 'none'}), so nothing could be detected in them. ` +
          `Build the day first: haystack hitlist build --day YYYY-MM-DD --pdns FILE (it writes ${config.detector.hitlistDir ?? join(config.stateDir, 'hitlist')}/<day>/).\n`,
      );
    if (json)
      process.stdout.write(
        `${JSON.stringify({ file, datagrams: res.datagrams, alreadyStored: res.alreadyStored, published: p.ingest!.publisher.counters, detector: s })}\n`,
      );
    else {
      const skipped = res.alreadyStored
        ? ` (${fmtInt(res.alreadyStored)} more were stored by an earlier replay of the same exports: skipped, they count once)`
        : '';
      process.stdout.write(`replayed ${fmtInt(res.datagrams)} datagrams from ${file}${skipped}\n${summary(s)}`);
      if (res.datagrams === 0 && res.alreadyStored > 0)
        process.stdout.write('this capture was already stored by an earlier run: its flows and detections count once, so nothing is new\n');
    }
  } finally {
    bar.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await store.close();
  }
}
