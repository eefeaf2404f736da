import { join } from 'node:path';
import type { HaystackConfig } from '@haystack/common';
import { DirHitlistStore, RedisHitlistStore, type HitlistStore } from '@haystack/hitlist-contract';

/**
 * The stores a detector runs on, from configuration (used by `haystack detect`, and by an
 * embedded one-process run wiring ingest → MemoryBus → detector):
 * hitlists from Redis when redis.url is set, else the day directories `haystack hitlist build`
 * writes (detector.hitlistDir, default <stateDir>/hitlist); ClickHouse at clickhouse.url, else
 * embedded chdb under <stateDir>/chdb (one process per data directory). An embedded run that
 * builds hitlists in the same process can pass a MemoryHitlistStore to createDetector instead.
 */
export function hitlistStoreFromConfig(config: HaystackConfig): HitlistStore {
  if (config.redis.url) return new RedisHitlistStore({ url: config.redis.url, keyPrefix: config.redis.keyPrefix });
  return new DirHitlistStore(config.detector.hitlistDir ?? join(config.stateDir, 'hitlist'));
}
