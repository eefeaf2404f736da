// One way to assemble and run Haystack: components with one lifecycle, wired in one place.
export * from './lifecycle.js';
export * from './assemble.js';
export * from './replay-once.js';
