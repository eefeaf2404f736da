import { Kafka, logLevel, type KafkaConfig, type LogEntry, type logCreator, type Admin } from 'kafkajs';
import type { HaystackConfig, Logger } from '@haystack/common';
import { registerKafkajsCodecs } from './kafka-codecs.js';
import { stopIdleRequestQueuePolling } from './kafkajs-request-queue.js';

/** The `kafka` section of the project configuration. */
// The session timeout is the consumers' (the pipeline passes it as a source option): producers need none.
export type KafkaSection = Omit<HaystackConfig['kafka'], 'sessionTimeoutMs'> & { sessionTimeoutMs?: number };

/**
 * Header on every flow message naming the flow batch format version (flow-core
 * FORMAT_VERSION, as decimal text), so tools can route or refuse batches without
 * parsing them.
 */
export const BATCH_FORMAT_HEADER = 'haystack-batch-format';

/**
 * Message key: the partition number as 4 bytes big-endian. Publishes name their partition
 * explicitly, so the key only documents the choice for other readers of the topic
 * (console consumers, mirrors); it is stable per partition and cheap (one cached buffer).
 */
export function partitionKey(partition: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(partition >>> 0, 0);
  return b;
}

export class KafkaTransportError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KafkaTransportError';
  }
}

const toKafkaLevel: Record<string, logLevel> = {
  silent: logLevel.NOTHING,
  fatal: logLevel.ERROR,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
  trace: logLevel.DEBUG,
};

/** kafkajs logs routed into the service's pino logger (stderr JSON); nothing when no logger. */
export function kafkaLogging(logger?: Logger): { logLevel: logLevel; logCreator: logCreator } {
  if (!logger) return { logLevel: logLevel.NOTHING, logCreator: () => () => undefined };
  const creator: logCreator = () => (entry: LogEntry) => {
    const { message, ...rest } = entry.log as { message: string } & Record<string, unknown>;
    const fields = { kafka: entry.namespace, ...rest };
    switch (entry.level) {
      case logLevel.ERROR:
        logger.error(fields, message);
        break;
      case logLevel.WARN:
        logger.warn(fields, message);
        break;
      case logLevel.INFO:
        logger.info(fields, message);
        break;
      default:
        logger.debug(fields, message);
    }
  };
  return { logLevel: toKafkaLevel[logger.level] ?? logLevel.INFO, logCreator: creator };
}

export interface KafkaClientOptions {
  logger?: Logger;
  /** Passed to kafkajs as is (ssl, sasl, connectionTimeout, requestTimeout, retry, ...). */
  client?: Partial<KafkaConfig>;
}

export function createKafkaClient(kafka: KafkaSection, opts: KafkaClientOptions): Kafka {
  registerKafkajsCodecs();
  stopIdleRequestQueuePolling();
  if (kafka.brokers.length === 0) throw new KafkaTransportError('kafka.brokers is empty: nothing to connect to (empty means the embedded bus)');
  return new Kafka({
    clientId: kafka.clientId,
    brokers: kafka.brokers,
    ...kafkaLogging(opts.logger),
    ...opts.client,
  });
}

/**
 * Partition count of the flow topic, failing clearly when it does not exist. Existence is
 * checked with a full topic listing first because a Metadata request naming the topic
 * may auto-create it (librdkafka's mock always does; Kafka does with auto.create.topics).
 */
export async function flowTopicPartitions(admin: Admin, kafka: KafkaSection): Promise<number> {
  let topics: string[];
  try {
    topics = await admin.listTopics();
  } catch (e) {
    throw new KafkaTransportError(`cannot list topics on Kafka brokers ${kafka.brokers.join(',')}: ${(e as Error).message}`, { cause: e });
  }
  if (!topics.includes(kafka.flowTopic))
    throw new KafkaTransportError(
      `Kafka topic '${kafka.flowTopic}' (kafka.flowTopic) does not exist on ${kafka.brokers.join(',')}; ` +
        'create it with the partition count you want: Haystack does not auto-create it',
    );
  const md = await admin.fetchTopicMetadata({ topics: [kafka.flowTopic] });
  const n = md.topics.find((t) => t.name === kafka.flowTopic)?.partitions.length ?? 0;
  if (n < 1) throw new KafkaTransportError(`Kafka topic '${kafka.flowTopic}' has no partitions`);
  return n;
}

/** Connect an admin client with a clear error when the brokers cannot be reached. */
export async function connectAdmin(client: Kafka, kafka: KafkaSection): Promise<Admin> {
  const admin = client.admin();
  try {
    await admin.connect();
  } catch (e) {
    await admin.disconnect().catch(() => undefined);
    throw new KafkaTransportError(`cannot connect to Kafka brokers ${kafka.brokers.join(',')}: ${(e as Error).message}`, { cause: e });
  }
  return admin;
}
