// The simulated ISP (`haystack simulate`): world, traffic, exports and ground truth.
export * from './addr.js';
export * from './catalog.js';
export * from './dns.js';
export * from './export.js';
export * from './options.js';
export * from './outputs.js';
export * from './population.js';
export * from './records.js';
export * from './rng.js';
export * from './traffic.js';
export * from './world.js';
export * from './verify.js';
