import { createRequire } from 'node:module';

/** The fields of kafkajs' per-connection RequestQueue that the fix reads. */
interface RequestQueueLike {
  pending: unknown[];
  throttledUntil: number;
  scheduleCheckPendingRequests(): void;
}

let applied: boolean | undefined;

/**
 * kafkajs 2.2.4 (unmaintained) re-arms a timer on every connection after every response, even
 * with nothing queued: `throttledUntil - Date.now()` is negative when no throttle is in force, so
 * each connection polls its empty queue every millisecond for as long as it is open (kafkajs
 * issue 1704), and Node 24 prints a TimeoutNegativeWarning on the detector's stderr the first time
 * (issue 1751). Measured on an idle consumer against the librdkafka mock: ~1,850 timers a second
 * and 2 % of a core, against none and 0.5 % with the check below.
 *
 * A queue with nothing pending and no throttle needs no timer: a request that cannot go out at
 * once is queued by `push`, which schedules again, and every response checks the queue itself.
 * Throttled or non-empty queues keep kafkajs' own scheduling. Applied once, process-wide; if a
 * kafkajs update changes the queue's shape the fix is not applied and the test that pins it fails.
 */
export function stopIdleRequestQueuePolling(): boolean {
  if (applied !== undefined) return applied;
  const require = createRequire(import.meta.url);
  let proto: RequestQueueLike | undefined;
  try {
    proto = (require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueueLike }).prototype;
  } catch {
    proto = undefined;
  }
  const original = proto?.scheduleCheckPendingRequests;
  if (!proto || typeof original !== 'function' || !/throttledUntil/.test(String(original))) return (applied = false);
  proto.scheduleCheckPendingRequests = function (this: RequestQueueLike): void {
    if (this.pending.length === 0 && !(this.throttledUntil > Date.now())) return;
    original.call(this);
  };
  return (applied = true);
}
