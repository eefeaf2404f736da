import { clickHouseOptions, type HaystackConfig } from '@haystack/common';
import { openClickHouse, type ClickHouseStore } from '@haystack/clickhouse';

/**
 * The store a process works on, from configuration: ClickHouse at clickhouse.url, else embedded
 * chdb under <stateDir>/chdb (one process per data directory).
 */
export function openStore(config: HaystackConfig): Promise<ClickHouseStore> {
  return openClickHouse(clickHouseOptions(config));
}
