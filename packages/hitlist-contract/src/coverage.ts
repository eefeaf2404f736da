import type { ClickHouseStore } from '@haystack/clickhouse';
import type { ClassKind } from './format.js';

export interface MakerCoverage {
  id: string;
  kind: Extract<ClassKind, 'manufacturer' | 'platform'>;
  name: string;
  products: { id: string; name: string; level: ClassKind | null }[];
  /** Entries naming a set of names (zones, regional twins, numbered shards). */
  families: string[];
  /** Entries naming one name (or a fixed list of names). */
  names: number;
  /** Regions its regional twins cover. */
  regions: string[];
  /** The finest level a line hosting one of its devices can be detected at (null: not detectable). */
  level: ClassKind | null;
  /** Why the level is coarser than product, or why it is not detectable. */
  note: string;
  sources: string[];
}

/** What the dictionary covers as a whole (the console's hitlist page, `haystack rules show`). */
export interface DictionaryCoverage {
  updated: string | null;
  digest: string;
  makers: number;
  platforms: number;
  products: number;
  families: number;
  domains: number;
  sources: number;
  entries: MakerCoverage[];
}

/**
 * What readers of the builder's output ask of it beyond the hitlist itself (the console), passed
 * in by whoever assembles the process, so a reader never imports the builder.
 */
export interface HitlistBuilds {
  /** The dictionary's coverage, read afresh on each call; throws when the dictionary cannot be read. */
  coverage(): DictionaryCoverage;
  /**
   * Record the build of `day` (its files in the day directory) in the history on `store`,
   * replacing that day's. Throws MissingDayError when the day was never built, BuildFilesError
   * when its files cannot be read (the recorded history is then left as it was).
   */
  record(store: ClickHouseStore, day: string): Promise<{ builtAt: string; entries: number; classes: number; domains: number }>;
}

/** A built day's files that cannot be read or do not belong to the day. */
export class BuildFilesError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BuildFilesError';
  }
}
