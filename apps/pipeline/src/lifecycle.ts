import type { Component as CommonComponent, ComponentHealth, Logger } from '@haystack/common';

/**
 * One part of a running pipeline. The services' parts are @haystack/common Components (start,
 * stop, health); the assembly's own plumbing (store, hitlists, transport, sink, metrics) has the
 * same shape without health. Components start in the order they were added and stop in reverse,
 * so whatever a component feeds is still running while it drains into it.
 */
export type Component = Pick<CommonComponent, 'name'> & Partial<Omit<CommonComponent, 'name'>>;

const SLOW_STOP_MS = 10_000;

/** Starts components in order, stops them in reverse; a failed start stops what had started. */
export class Lifecycle {
  private readonly components: Component[] = [];
  private started: Component[] = [];
  private stopping: Promise<void> | null = null;

  constructor(private readonly log: Logger) {}

  add(c: Component): this {
    this.components.push(c);
    return this;
  }

  get names(): string[] {
    return this.components.map((c) => c.name);
  }

  async start(): Promise<void> {
    for (const c of this.components) {
      // Pushed first: a component that fails half-way (one port bound, the next in use) is stopped too.
      this.started.push(c);
      try {
        await c.start?.();
      } catch (e) {
        this.log.debug({ component: c.name }, 'start failed: stopping what had started');
        await this.stop().catch((err: unknown) => this.log.warn({ err }, 'stopping after a failed start also failed'));
        throw e;
      }
    }
  }

  /** Reverse order; every component is stopped even if one fails (the first error is thrown). Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      let first: unknown;
      for (const c of this.started.reverse()) {
        // A part that hangs is named while it does: the operator sees what a stop waits for.
        const slow = setTimeout(() => this.log.warn({ component: c.name }, `still stopping ${c.name} after ${SLOW_STOP_MS / 1000} s`), SLOW_STOP_MS);
        slow.unref();
        try {
          await c.stop?.();
        } catch (e) {
          this.log.warn({ err: e, component: c.name }, 'stopping a component failed');
          first ??= e;
        } finally {
          clearTimeout(slow);
        }
      }
      this.started = [];
      if (first !== undefined) throw first;
    })();
    return this.stopping;
  }

  /** Health of every component that reports it, by name. */
  health(): Record<string, ComponentHealth> {
    const out: Record<string, ComponentHealth> = {};
    for (const c of this.components) if (c.health) out[c.name] = c.health();
    return out;
  }

  /** The first component failure for good (never settles if none can fail). */
  failed(): Promise<Error> {
    const all = this.components.flatMap((c) => (c.failed ? [c.failed().then((e) => Object.assign(e, { component: c.name }))] : []));
    return all.length ? Promise.race(all) : new Promise<Error>(() => undefined);
  }
}
