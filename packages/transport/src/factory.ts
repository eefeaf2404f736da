import type { Logger } from '@haystack/common';
import type { BatchMeta, FlowSink, FlowSource } from './types.js';
import type { KafkaSection } from './kafka-common.js';
import { MemoryBus, type MemoryBusOptions, type MemorySourceOptions } from './memory-bus.js';
import { KafkaFlowSink, type KafkaSinkOptions } from './kafka-sink.js';
import { KafkaFlowSource, type KafkaSourceOptions } from './kafka-source.js';

/** Source options; the Kafka-only ones are ignored by the in-process bus. */
export type FlowSourceOptions = MemorySourceOptions &
  Omit<Partial<KafkaSourceOptions>, 'kafka' | 'onError'> & {
    onError?: (err: unknown, meta: BatchMeta | undefined) => void;
  };

export interface FlowTransportOptions {
  logger?: Logger;
  /** Embedded bus shape (only when kafka.brokers is empty). */
  memory?: MemoryBusOptions;
  /** Extra Kafka producer options (linger, limits, client settings). */
  sink?: Omit<Partial<KafkaSinkOptions>, 'kafka'>;
  /** Defaults for every source created (overridden per createSource call). */
  source?: FlowSourceOptions;
}

/**
 * Both ends of the ingest → detector boundary, chosen by configuration: empty
 * kafka.brokers → the in-process MemoryBus (embedded mode, one process), otherwise Kafka.
 */
export interface FlowTransport {
  readonly mode: 'memory' | 'kafka';
  /** The embedded bus (memory mode only), e.g. for its counters. */
  readonly bus: MemoryBus | undefined;
  /** A ready sink: Kafka has been reached and the flow topic's partition count read. */
  connectSink(): Promise<FlowSink>;
  /** A consumer: a member of kafka.consumerGroup, or the bus's (single) consumer. */
  createSource(opts?: FlowSourceOptions): FlowSource;
  /** Close every sink and source made here; the embedded bus first drains into its running source. */
  close(): Promise<void>;
}

export function createFlowTransport(config: { kafka: KafkaSection }, opts: FlowTransportOptions = {}): FlowTransport {
  const kafka = config.kafka;
  const sinks: FlowSink[] = [];
  const sources: FlowSource[] = [];

  if (kafka.brokers.length === 0) {
    const bus = new MemoryBus(opts.memory);
    return {
      mode: 'memory',
      bus,
      async connectSink() {
        return bus.sink;
      },
      createSource(o) {
        return bus.createSource({ ...opts.source, ...o });
      },
      async close() {
        await bus.close({ drain: true });
      },
    };
  }

  return {
    mode: 'kafka',
    bus: undefined,
    async connectSink() {
      const sink = await KafkaFlowSink.connect({ logger: opts.logger, ...opts.sink, kafka });
      sinks.push(sink);
      return sink;
    },
    createSource(o) {
      const src = new KafkaFlowSource({ logger: opts.logger, ...opts.source, ...o, kafka });
      sources.push(src);
      return src;
    },
    async close() {
      // Sinks first: what ingest published is flushed before the consumers leave.
      const results = await Promise.allSettled([...sinks.splice(0).map((s) => s.close())]);
      results.push(...(await Promise.allSettled(sources.splice(0).map((s) => s.close()))));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
