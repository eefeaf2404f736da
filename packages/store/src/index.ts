// The ClickHouse store: one home for what the detector, the hitlist builder and the passive-DNS
// service write and the report and console read.
export * from './tables.js';
export * from './schema.js';
export { detectorDDL, type Retention } from './ddl/detector.js';
export * from './rows.js';
export * from './days.js';
export * from './reader.js';
export * from './open.js';
export * from './lines.js';
export * from './subscribers.js';
export * from './replayed.js';
export * from './figures.js';
export * from './backend-figures.js';
export * from './cluster.js';
