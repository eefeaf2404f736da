export * from './batch.js';
export * from './record.js';
export * from './fields.js';
export * from './compile.js';
export * from './sampling.js';
export * from './state.js';
export * from './encode.js';
export * from './health.js';
