// haystack pdns: the operator's resolvers (dnstap) → per-day passive DNS tuples in ClickHouse.
export * from './collector.js';
export * from './metrics.js';
export * from './service.js';
export * from './component.js';
