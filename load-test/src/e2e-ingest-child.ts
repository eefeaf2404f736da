// The ingest side of bench-e2e in its own process, as deployed (ingest and detector are separate
// services): replays a capture through an ingest-only pipeline into Kafka. The parent (detectors + chdb)
// reports progress over IPC; publishing waits while the backlog ahead of the detectors exceeds
// what the librdkafka mock retains (it drops older data silently; a real broker keeps it).
//
//   forked by bench-e2e.ts with a JSON job in argv[2]
import { configSchema, silentLogger } from '@haystack/common';
import { assemblePipeline } from '@haystack/pipeline';

interface Job {
  config: unknown;
  pcap: string;
  maxBacklog: number;
}
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'done'; published: number; batches: number; endBatches: number; seconds: number; cpu: number; lagWaits: number; maxRssMiB: number }
  | { type: 'error'; message: string };
export type ParentMessage = { type: 'go' } | { type: 'progress'; processed: number };

const send = (m: ChildMessage) => process.send!(m);
const job = JSON.parse(process.argv[2]!) as Job;
const config = configSchema.parse(job.config);
let processed = 0;
let go: () => void;
const started = new Promise<void>((r) => (go = r));
let wake: (() => void) | undefined;
process.on('message', (m: ParentMessage) => {
  if (m.type === 'go') go();
  else {
    processed = m.processed;
    wake?.();
  }
});

try {
  const p = assemblePipeline({ config, log: silentLogger, ingest: 'replay', ingestHealth: false, metrics: false });
  await p.start();
  const pub = p.ingest!.publisher;
  const ready = pub.ready.bind(pub);
  let lagWaits = 0;
  pub.ready = async () => {
    await ready();
    if (pub.counters.records - processed <= job.maxBacklog) return;
    lagWaits++;
    const stall = Date.now() + 60_000;
    while (pub.counters.records - processed > job.maxBacklog) {
      if (Date.now() > stall) throw new Error(`detectors made no progress for 60 s (processed ${processed} of ${pub.counters.records})`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
  };
  send({ type: 'ready' });
  await started;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await p.replay(job.pcap);
  await pub.drain();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await p.stop();
  send({
    type: 'done',
    published: pub.counters.records,
    batches: pub.counters.batches,
    endBatches: pub.counters.endBatches,
    seconds,
    cpu: (cpu.user + cpu.system) / 1e6,
    lagWaits,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  });
} catch (e) {
  send({ type: 'error', message: (e as Error).stack ?? String(e) });
}
process.disconnect();
