export * from './batch.js';
export * from './record.js';
