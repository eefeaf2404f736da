import type { MessagePort } from 'node:worker_threads';
import { BatchBuffers, type FlowSink } from '@haystack/transport';

/** A batch going from a worker to the process's sink, and the answer. */
type SinkRequest = { t: 'publish'; id: number; partition: number; batch: Uint8Array };
/** `batch`: the memory back, when the main thread's sink is done with it (reused for a later batch). */
type SinkAnswer = { t: 'acked'; id: number; error?: string; batch?: Uint8Array };

/**
 * A worker's sink: batches go to the main thread, which publishes them to the process's one
 * sink (Kafka producer or in-process bus) and answers when it accepted them, so a worker's
 * publish settles exactly as the sink's would. A batch in memory this sink handed out
 * (`batchBuffer`, the publisher's) or owning its whole buffer is moved, not copied; when the
 * main thread's sink keeps no reference after publishing (counting, Kafka), the memory comes
 * back with the answer and serves a later batch.
 */
export class ThreadSink implements FlowSink {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private closed = false;
  readonly buffers = new BatchBuffers();

  constructor(
    private readonly port: MessagePort,
    readonly partitions: number,
  ) {
    port.on('message', (m: SinkAnswer) => {
      if (m?.t !== 'acked') return;
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.batch) this.buffers.adopt(m.batch.buffer as ArrayBuffer);
      if (m.error === undefined) w.resolve();
      else w.reject(new Error(m.error));
    });
  }

  publish(partition: number, batch: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new Error('thread sink is closed'));
    const id = this.nextId++;
    const own = batch.byteOffset === 0 && (this.buffers.owns(batch) || (batch.byteLength === batch.buffer.byteLength && batch.buffer instanceof ArrayBuffer));
    const view = own ? new Uint8Array(batch.buffer, 0, batch.byteLength) : new Uint8Array(batch);
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.port.postMessage({ t: 'publish', id, partition, batch: view } satisfies SinkRequest, [view.buffer as ArrayBuffer]);
    });
  }

  batchBuffer(bytes: number): Buffer {
    return this.buffers.take(bytes);
  }

  /** In flight: answered by the main thread before it stops (it drains the workers first). */
  async close(): Promise<void> {
    this.closed = true;
    this.port.close();
  }
}

/** The main thread's side: publish a worker's batches to `sink`, answer each. */
export function relayToSink(port: MessagePort, sink: () => FlowSink): void {
  port.on('message', (m: SinkRequest) => {
    if (m?.t !== 'publish') return;
    const batch = Buffer.from(m.batch.buffer, m.batch.byteOffset, m.batch.byteLength);
    let done: Promise<void>;
    try {
      done = sink().publish(m.partition, batch);
    } catch (e) {
      done = Promise.reject(e as Error);
    }
    done.then(
      () => {
        // A sink that recycles batches keeps none once published: the memory goes back to the worker.
        if (typeof sink().batchBuffer === 'function')
          port.postMessage({ t: 'acked', id: m.id, batch: m.batch } satisfies SinkAnswer, [m.batch.buffer as ArrayBuffer]);
        else port.postMessage({ t: 'acked', id: m.id } satisfies SinkAnswer);
      },
      (e: unknown) => port.postMessage({ t: 'acked', id: m.id, error: e instanceof Error ? e.message : String(e) } satisfies SinkAnswer),
    );
  });
}
