import { Counter, Gauge, type Registry } from 'prom-client';
import type { PdnsCollector, PdnsCounters } from './collector.js';

/** Prometheus view of the collector's counters, read at scrape time. */
export function registerPdnsMetrics(reg: Registry, c: PdnsCollector): void {
  const keys: (keyof PdnsCounters)[] = [
    'frames',
    'messages',
    'responses',
    'answers',
    'malformed',
    'errorResponses',
    'oversized',
    'wrongContentType',
    'protocolErrors',
    'cutMidFrame',
    'connections',
    'tuplesFlushed',
    'flushes',
    'flushFailures',
    'tuplesLost',
    'badTimes',
    'refusedConnections',
  ];
  for (const k of keys) {
    const name = k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);
    new Counter({
      name: `haystack_pdns_${name}_total`,
      help: `dnstap collector: ${name.replace(/_/g, ' ')}`,
      registers: [reg],
      collect() {
        this.reset();
        this.inc(c.counters[k]);
      },
    });
  }
  new Gauge({
    name: 'haystack_pdns_resolvers_connected',
    help: 'Resolvers connected now',
    registers: [reg],
    collect() {
      this.set(c.resolversConnected);
    },
  });
  new Gauge({
    name: 'haystack_pdns_tuples_held',
    help: 'Passive DNS tuples in memory, not yet flushed',
    registers: [reg],
    collect() {
      this.set(c.tuplesHeld);
    },
  });
}
