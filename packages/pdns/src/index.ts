// dnstap in, passive-DNS tuples out: Frame Streams, the dnstap schema, DNS answers, per-day aggregation. No I/O but the file writer.
export * from './fstrm.js';
export * from './dns.js';
export * from './dns-encode.js';
export * from './dnstap.js';
export * from './aggregate.js';
export * from './writer.js';
export * from './store.js';
