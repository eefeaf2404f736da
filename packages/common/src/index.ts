export * from './config.js';
export * from './log.js';
export * from './metrics.js';
export * from './net.js';
export * from './random.js';
export * from './bytes.js';
export * from './content-id.js';
export * from './component.js';
