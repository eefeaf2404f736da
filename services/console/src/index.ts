// The operator console: pages and JSON API (server.ts), its queries, auth and charts.
export * from './server.js';
export * from './auth.js';
export * from './live.js';
export * from './queries.js';
export * from './lookup.js';
export * from './client.js';
export * from './cache.js';
export * from './component.js';
