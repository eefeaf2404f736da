import { ClickHouseQueryError, type ClickHouseStore, type QueryParams } from '@haystack/clickhouse';

/**
 * Reads that treat a missing table or database as no rows: a report or console page for a store
 * where nothing was written yet (or a part that never ran, such as the hitlist history) shows
 * empty figures instead of failing. Any other error still throws.
 */
export class TolerantReader {
  constructor(readonly store: ClickHouseStore) {}

  async all<T>(sql: string, params?: QueryParams): Promise<T[]> {
    try {
      return await this.store.query<T>(sql, params);
    } catch (e) {
      // 60 UNKNOWN_TABLE, 81 UNKNOWN_DATABASE: nothing stored there yet.
      if (e instanceof ClickHouseQueryError && (e.code === '60' || e.code === '81')) return [];
      throw e;
    }
  }

  async one<T>(sql: string, params?: QueryParams): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }
}
