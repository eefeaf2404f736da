import type { ClickHouseStore } from '@haystack/clickhouse';
import type { HaystackConfig, Logger } from '@haystack/common';
import type { ReplayOptions, ReplayResult } from '@haystack/ingest';
import { basename } from 'node:path';
import { daysOfSource, ensureSchema, loadReplayedExports, recordReplayedExports, recordReplayRun } from '@haystack/store';
import { assemblePipeline, type Pipeline, type PipelineOptions } from './assemble.js';

export interface ReplayIntoStoreOptions {
  config: HaystackConfig;
  log: Logger;
  /** Stays open: the caller reads the report from it. */
  store: ClickHouseStore;
  file: string;
  replayId?: string;
  /** More pipeline options (metrics, detector options). */
  pipeline?: Partial<PipelineOptions>;
  replay?: Partial<ReplayOptions>;
  /** Called once the pipeline is assembled (to interrupt it on a signal). */
  onPipeline?: (p: Pipeline) => void;
}

/**
 * Replay a capture through ingest and the detector into the store, once: export datagrams an
 * earlier replay stored (whatever file held them: plain, compressed, cut, split, other batch
 * sizes) are skipped, and those replayed now are recorded only after the pipeline has stored
 * their flows, so a failed run leaves nothing marked that is not stored.
 */
export async function replayIntoStore(o: ReplayIntoStoreOptions): Promise<{ result: ReplayResult; pipeline: Pipeline }> {
  const { config, log, store } = o;
  await ensureSchema(store, { replay: { retentionDays: config.detector.retention.qualityDays } });
  const skip = await loadReplayedExports(store);
  const p = assemblePipeline({
    config,
    log,
    ingest: 'replay',
    detect: true,
    embedded: true,
    ...o.pipeline,
    store,
    ...(o.replayId ? { replayId: o.replayId } : {}),
  });
  o.onPipeline?.(p);
  let result: ReplayResult;
  try {
    await p.start();
    result = await p.replay(o.file, { ...o.replay, skip });
    // Every published batch handled and stored before the detector leaves.
    await p.stop();
  } finally {
    await p.stop();
  }
  await recordReplayedExports(store, result.exportKeys);
  // The days it stored are partial while the run was interrupted, until a complete run replaces it.
  const source = p.detector?.sourceId;
  if (source)
    await recordReplayRun(
      store,
      { capture: o.replayId ?? o.file, file: basename(o.file), complete: !result.interrupted, bytesRead: result.bytesRead, totalBytes: result.totalBytes },
      await daysOfSource(store, source),
    );
  return { result, pipeline: p };
}
