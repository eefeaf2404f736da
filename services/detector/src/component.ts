import type { Component, ComponentHealth, Later } from '@haystack/common';
import type { HitlistStore } from '@haystack/hitlist-contract';
import type { FlowSource } from '@haystack/transport';
import { createDetector, type Detector, type DetectorOptions } from './detector.js';
import type { DetectorStorage } from './storage.js';

export interface DetectorComponentOptions extends Omit<DetectorOptions, 'source' | 'hitlists' | 'storage'> {
  /** Where batches come from; there once the transport has started. */
  source: Later<FlowSource>;
  hitlists: Later<HitlistStore>;
  /** Where rows go (a ClickHouseDetectorStorage on the shared store, or a test's own). */
  storage: Later<DetectorStorage>;
  /** Before the detector stops: let what feeds it drain into it (the in-process bus). */
  beforeStop?: () => Promise<void>;
}

export interface DetectorComponent extends Component {
  /** The running detector (its stats, its hitlists), once started. */
  readonly detector: Detector | undefined;
}

/** The detector as a component: consume flow batches, match, store detections and evidence. */
export function detectorComponent(o: DetectorComponentOptions): DetectorComponent {
  let detector: Detector | undefined;
  let failure: ((e: Error) => void) | undefined;
  const failed = new Promise<Error>((resolve) => (failure = resolve));
  const { source, hitlists, storage, beforeStop, ...rest } = o;
  return {
    name: 'detector',
    get detector() {
      return detector;
    },
    async start() {
      detector = createDetector({ ...rest, source: source(), hitlists: hitlists(), storage: storage() });
      await detector.start();
      void detector.failed().then((e) => failure?.(e));
    },
    async stop() {
      await beforeStop?.();
      await detector?.stop();
    },
    health(): ComponentHealth {
      const s = detector?.stats();
      return {
        ok: !!detector && (s?.handlerFailures ?? 0) === 0,
        detail: s ? { batches: s.batches, flows: s.flows, matched: s.matched, insertFailures: s.insertFailures, handlerFailures: s.handlerFailures } : {},
      };
    },
    failed: () => failed,
  };
}
