export * from './kafka-mock.js';
export * from './redis.js';
export * from './exporters.js';
