import { formatAddress } from '@haystack/common';
import type { SequenceState, TemplateRegistry } from './template/index.js';
import { PROTOCOL } from '@haystack/flow-core';
import { restoreSflowSources, sflowSources, type SflowSourceState } from './sflow/sflow.js';

/**
 * Where every exporter's sequence numbers stand, taken when the records decoded so far have
 * all been published: a collector restarted from it counts as lost only what never reached
 * the sink (sent while it was down, or held when it died), not what it had already published.
 * Small (no templates), so it is saved after every publish round.
 */
export interface SequenceCheckpoint {
  format: 'haystack-sequences';
  version: 1;
  savedAt: string;
  domains: { exporter: string; version: number; domain: number; sequence: SequenceState; sflowSources?: SflowSourceState[] }[];
}

export function takeSequenceCheckpoint(registry: TemplateRegistry, now = Date.now()): SequenceCheckpoint {
  const domains: SequenceCheckpoint['domains'] = [];
  for (const d of registry.all()) {
    const sequence = d.sequenceState();
    if (sequence.expected === null && sequence.last === null && d.version !== PROTOCOL.sflow5) continue;
    const entry: SequenceCheckpoint['domains'][number] = { exporter: d.exporterText, version: d.version, domain: d.domain, sequence };
    if (d.version === PROTOCOL.sflow5) entry.sflowSources = sflowSources(d);
    domains.push(entry);
  }
  return { format: 'haystack-sequences', version: 1, savedAt: new Date(now).toISOString(), domains };
}

/** Apply a checkpoint over whatever the template snapshot restored (it is newer). Returns domains restored. */
export function restoreSequenceCheckpoint(registry: TemplateRegistry, cp: SequenceCheckpoint, parseAddr: (text: string) => Uint8Array): number {
  if (cp?.format !== 'haystack-sequences' || cp.version !== 1 || !Array.isArray(cp.domains))
    throw new Error('not a Haystack sequence checkpoint (format/version)');
  // The template snapshot also restored sequences, saved less often: a domain the checkpoint does
  // not name had no known sequence when it was taken, so an older one must not count a gap.
  const named = new Set(cp.domains.map((e) => `${e.exporter}|${e.version}|${e.domain}`));
  for (const d of registry.all())
    if (!named.has(`${d.exporterText}|${d.version}|${d.domain}`))
      d.restoreSequenceState({ expected: null, last: null, postIncrement: d.postIncrement, lastSeenMs: d.lastSeenMs, firstSeenMs: 0, unitsSeen: 0 });
  let n = 0;
  for (const e of cp.domains) {
    const addr = parseAddr(e.exporter);
    const d = registry.get(addr, formatAddress(addr), e.version, e.domain);
    if (!d) break;
    d.restoreSequenceState(e.sequence);
    if (e.sflowSources) restoreSflowSources(d, e.sflowSources);
    n++;
  }
  return n;
}
