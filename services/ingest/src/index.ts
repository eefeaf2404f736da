export * from './publisher.js';
export * from './collector.js';
export * from './replay.js';
export * from './template-store.js';
export * from './metrics.js';
export * from './service.js';
export * from './health.js';
export * from './archive.js';
