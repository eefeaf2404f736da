export * from './types.js';
export * from './partition.js';
export * from './memory-bus.js';
export * from './kafka-common.js';
export * from './kafka-sink.js';
export * from './kafka-source.js';
export * from './factory.js';
export { TransportClosedError, type RetryBackoff } from './util.js';
export * from './counting-sink.js';
