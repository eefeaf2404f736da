// The hand-off between the hitlist builder and the detector: the hitlist format and the stores
// it travels through (memory, Redis, the day directories on disk).
export * from './format.js';
export * from './store.js';
export * from './dir-store.js';
export * from './coverage.js';
