export * from './fields.js';
export * from './compile.js';
export * from './sampling.js';
export * from './state.js';
