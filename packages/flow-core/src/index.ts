// What ingest and the detector share: the flow batch, its record view, ingest health snapshots.
export * from './batch.js';
export * from './record.js';
export * from './health.js';
