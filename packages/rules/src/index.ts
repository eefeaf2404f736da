// The IoT dictionary (the method's step 1): rules/ loaded and validated, names and patterns.
export * from './load.js';
export * from './schema.js';
export * from './names.js';
export * from './shipped.js';
export * from './learn/learn.js';
