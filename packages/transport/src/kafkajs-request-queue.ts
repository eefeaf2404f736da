import { createRequire } from 'node:module';

/** The fields of kafkajs' per-connection RequestQueue that the replacement uses. */
interface RequestQueueLike {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
  push(request: unknown): void;
}

/** kafkajs' own retry interval for a queue that has requests but may not send yet. */
const CHECK_PENDING_REQUESTS_INTERVAL = 10;

let applied: boolean | undefined;

/**
 * kafkajs 2.2.4 (unmaintained) re-arms a timer on every connection after every response, even
 * with nothing queued: `throttledUntil - Date.now()` is negative when no throttle is in force, so
 * each connection polls its empty queue every millisecond for as long as it is open (kafkajs
 * issue 1704), and Node 24 prints a TimeoutNegativeWarning on the detector's stderr the first time
 * (issue 1751). Measured on an idle consumer of 16 partitions against the librdkafka mock: ~1,840
 * queue checks a second and 2.5 % of a core, against 2 and 0.6 % with the replacement.
 *
 * The replacement schedules exactly as kafkajs does, except that a queue with nothing pending and
 * no throttle gets no timer: a request that cannot go out at once is queued by `push`, which
 * schedules again, and every response or request timeout checks the queue itself. The delay is
 * computed once (kafkajs' own code reads the clock twice). Applied once, process-wide, and only
 * when the queue still has the shape this relies on; otherwise it is left alone and the test that
 * pins the fix fails.
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
  const schedule = String(proto?.scheduleCheckPendingRequests);
  const push = String(proto?.push);
  const shaped =
    proto !== undefined &&
    typeof proto.checkPendingRequests === 'function' &&
    ['throttledUntil', 'throttleCheckTimeoutId', 'pending.length', 'checkPendingRequests'].every((s) => schedule.includes(s)) &&
    /pending\.push\([^)]*\)\s*this\.scheduleCheckPendingRequests\(\)/.test(push);
  if (!proto || !shaped) return (applied = false);
  proto.scheduleCheckPendingRequests = function (this: RequestQueueLike): void {
    if (this.throttleCheckTimeoutId) return;
    const throttled = this.throttledUntil - Date.now();
    if (this.pending.length === 0 && !(throttled > 0)) return;
    this.throttleCheckTimeoutId = setTimeout(
      () => {
        this.throttleCheckTimeoutId = null;
        this.checkPendingRequests();
      },
      throttled > 0 ? throttled : CHECK_PENDING_REQUESTS_INTERVAL,
    );
  };
  return (applied = true);
}
