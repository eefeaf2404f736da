import { stat } from 'node:fs/promises';
import { contentId } from '@haystack/common';
import { newStats, readUdp, type PcapStats } from '@haystack/pcap';
import { BatchWriter, F, HEADER_SIZE, RECORD_SIZE } from '@haystack/flow-core';
import { NfdumpRecords, type NfdumpCounters } from '@haystack/decoders';
import { isArchive, newArchiveStats, readArchive, type ArchiveStats } from './archive.js';
import type { Collector } from './collector.js';
import { exportKey } from './export-key.js';
import type { Publisher } from './publisher.js';

export interface ReplayOptions {
  /** 'full': as fast as the pipeline takes it; 'original': the capture's own pace. */
  pace: 'full' | 'original';
  /** With pace 'original': speed-up factor (2 = twice as fast). */
  speed?: number;
  /** Only datagrams to these UDP destination ports (default: every UDP datagram). */
  ports?: number[];
  /** Called now and then with bytes of the file consumed so far and the file size. */
  onProgress?: (bytesRead: number, totalBytes: number, datagrams: number) => void;
  /** Use the capture's timestamps as arrival time (default), rather than now. */
  captureTime?: boolean;
  /** Stop reading when aborted (Ctrl-C): what was read is published, the result says `interrupted`. */
  signal?: AbortSignal;
  /**
   * Export datagrams already stored by an earlier replay ({@link exportKey}): skipped, so the
   * same exports count once however they are packed, and an overlapping capture adds only what is new.
   */
  skip?: ReadonlySet<string>;
}

export interface ReplayResult {
  datagrams: number;
  skippedPorts: number;
  pcap: PcapStats;
  seconds: number;
  /** Set when the file was an nfdump archive (flow records, not datagrams). */
  archive?: ArchiveStats & NfdumpCounters;
  /** The replay was stopped before the end of the file (options.signal). */
  interrupted: boolean;
  /** Bytes of the file read when it ended (the file's size when not interrupted). */
  bytesRead: number;
  totalBytes: number;
  /** Datagrams skipped because an earlier replay stored them (options.skip). */
  alreadyStored: number;
  /** The export keys of the datagrams replayed (to record once they are stored). */
  exportKeys: string[];
}

/**
 * Replays a pcap/pcapng capture of exporter traffic through the collector's own
 * datagram path (allowlist, decoder, publisher), so a replay counts exactly as live
 * traffic would.
 */
export async function replayCapture(file: string, collector: Collector, publisher: Publisher, opts: ReplayOptions): Promise<ReplayResult> {
  if (await isArchive(file)) return replayArchive(file, collector, publisher, opts);
  const total = (await stat(file)).size;
  const reader = readUdp(file);
  const ports = opts.ports?.length ? new Set(opts.ports) : null;
  const speed = opts.speed && opts.speed > 0 ? opts.speed : 1;
  const t0 = performance.now();
  let firstTs = NaN;
  let datagrams = 0;
  let skipped = 0;
  let alreadyStored = 0;
  const exportKeys: string[] = [];
  let interrupted = false;
  for await (const d of reader) {
    if (opts.signal?.aborted) {
      interrupted = true;
      break;
    }
    if (ports && !ports.has(d.dstPort)) {
      skipped++;
      continue;
    }
    if (opts.pace === 'original' && d.tsMs === d.tsMs) {
      if (firstTs !== firstTs) firstTs = d.tsMs;
      const due = (d.tsMs - firstTs) / speed - (performance.now() - t0);
      if (due > 1) await new Promise((r) => setTimeout(r, due));
    }
    const key = exportKey(d.payload, d.src);
    if (key !== null) {
      if (opts.skip?.has(key)) {
        alreadyStored++;
        continue;
      }
      exportKeys.push(key);
    }
    collector.onMessage(d.payload, d.src, opts.captureTime === false || d.tsMs !== d.tsMs ? Date.now() : d.tsMs);
    datagrams++;
    // Backpressure: a replay waits, it never drops. Checked per datagram (a getter; an await only
    // when the sink lags), so it holds at most one datagram's batches beyond the limit; and
    // ready() is also awaited every 1,024 datagrams, where whoever owns the publisher may hold
    // the replay back for reasons of its own (bench-e2e: the librdkafka mock's retention).
    if ((datagrams & 1023) === 0) {
      collector.sweep();
      await collector.maybeReportHealth(collector.lastReceived);
      opts.onProgress?.(Math.min(reader.stats.bytes, total), total, datagrams); // compressed: more bytes than the file
      await publisher.ready();
    } else if (publisher.full) await publisher.ready();
  }
  await publisher.drain();
  await collector.maybeReportHealth(collector.lastReceived, true);
  const bytesRead = interrupted ? Math.min(reader.stats.bytes, total) : total;
  opts.onProgress?.(bytesRead, total, datagrams);
  return {
    datagrams,
    skippedPorts: skipped,
    pcap: reader.stats,
    seconds: (performance.now() - t0) / 1000,
    interrupted,
    bytesRead,
    totalBytes: total,
    alreadyStored,
    exportKeys,
  };
}

/**
 * Replays an nfdump archive (what nfcapd/sfcapd wrote): its flow records go through the same
 * publisher as decoded datagrams, counted per exporter in the decoder's registry. Records
 * have no pace of their own: an archive is always read as fast as the pipeline takes it.
 */
async function replayArchive(file: string, collector: Collector, publisher: Publisher, opts: ReplayOptions): Promise<ReplayResult> {
  const total = (await stat(file)).size;
  const t0 = performance.now();
  const stats = newArchiveStats();
  const recs = new NfdumpRecords(collector.decoder.registry);
  const w = new BatchWriter(4096);
  let latest = 0;
  let done = 0;
  let interrupted = false;
  for await (const block of readArchive(file, stats)) {
    if (opts.signal?.aborted) {
      interrupted = true;
      break;
    }
    recs.block(block.data, block.numRecords, w);
    for (let i = 0; i < w.count; i++) {
      const end = w.dv.getFloat64(HEADER_SIZE + i * RECORD_SIZE + F.end, true);
      if (end > latest) latest = end;
    }
    if (w.count > 0) publisher.add(w);
    done += block.data.length;
    opts.onProgress?.(Math.min(done, total), total, 0);
    await publisher.ready();
  }
  await publisher.drain();
  await collector.maybeReportHealth(latest || Date.now(), true);
  const bytesRead = interrupted ? done : total;
  opts.onProgress?.(bytesRead, total, 0);
  return {
    datagrams: 0,
    skippedPorts: 0,
    pcap: newStats(),
    seconds: (performance.now() - t0) / 1000,
    archive: { ...stats, ...recs.counters },
    interrupted,
    bytesRead,
    totalBytes: total,
    // nfdump archives hold records, not datagrams: nothing to recognise them by (see README).
    alreadyStored: 0,
    exportKeys: [],
  };
}

/**
 * A name for a capture's content (size and SHA-256 of its first and last 4 MiB). A replay's
 * flows and health snapshots are stored under it (with the batching that decides their
 * positions), so replaying the same capture again changes no count; a different capture adds its own.
 */
export const captureId = contentId;
