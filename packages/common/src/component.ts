/**
 * The one shape of a running part of Haystack (ingest, detector, console, passive-DNS
 * collector; storage and transport in the assembly): created with everything it depends on
 * passed in, started and stopped by whoever assembles the process (apps/pipeline), in order.
 */
export interface Component {
  readonly name: string;
  start(): Promise<void>;
  /** Publish or store what it holds, then release what it opened (never what it was given). */
  stop(): Promise<void>;
  /** What an operator or a health check needs to know now; cheap, never throws. */
  health(): ComponentHealth;
  /** Settles with the error that ended it for good (time for the process to exit). */
  failed?(): Promise<Error>;
}

export interface ComponentHealth {
  /** Running and able to do its job. */
  ok: boolean;
  /** Its own figures, plain JSON. */
  detail: Record<string, unknown>;
}

/** A dependency that exists only once an earlier component has started (a sink, a store). */
export type Later<T> = () => T;
