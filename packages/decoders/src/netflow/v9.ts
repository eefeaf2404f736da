import { u16, u32 } from '@haystack/common';
import type { BatchWriter } from '@haystack/flow-core';
import type { TemplateField } from '../template/compile.js';
import type { TemplateRegistry, DomainState } from '../template/state.js';

export const V9_HEADER = 20;

/**
 * NetFlow v9 (RFC 3954). Templates are keyed by exporter + source id + template id.
 * Sequence numbers count export packets per source id. Timestamps are sysUptime-relative
 * and anchored on the header (unix_secs, sysUptime).
 * Returns records decoded, or -1 for a packet whose header cannot be trusted.
 * Never throws on packet contents: problems are counted in the domain's counters.
 */
export function decodeV9(b: Uint8Array, exporter: Uint8Array, exporterText: string, receivedMs: number, reg: TemplateRegistry, w: BatchWriter): number {
  const len = b.length;
  if (len < V9_HEADER) return -1;
  const uptime = u32(b, 4);
  const secs = u32(b, 8);
  const seq = u32(b, 12);
  const sourceId = u32(b, 16);
  const d = reg.get(exporter, exporterText, 9, sourceId);
  if (!d) return -1;
  d.beginPacket(secs * 1000, uptime, receivedMs);
  d.sequence(seq, 1);
  let records = 0;
  let p = V9_HEADER;
  while (p + 4 <= len) {
    const id = u16(b, p);
    const setLen = u16(b, p + 2);
    if (setLen < 4 || p + setLen > len) {
      // A length that lies: nothing after this point can be framed. Keep what came before.
      d.counters.malformedSets++;
      d.counters.malformedPackets++;
      return records;
    }
    const end = p + setLen;
    if (id === 0) templates(d, b, p + 4, end, w);
    else if (id === 1) optionsTemplates(d, b, p + 4, end, w);
    else if (id >= 256) {
      const n = d.dataSet(id, b, p + 4, end, w);
      if (n > 0) records += n;
    } // 2..255 are reserved: skipped by length.
    p = end;
  }
  if (p < len) d.counters.trailingBytes++; // fewer than 4 bytes left: not a flowset
  return records;
}

function templates(d: DomainState, b: Uint8Array, q: number, end: number, w: BatchWriter): void {
  while (q + 4 <= end) {
    const tid = u16(b, q);
    const count = u16(b, q + 2);
    q += 4;
    if (q + count * 4 > end || tid < 256) {
      d.counters.malformedSets++;
      d.counters.templatesRejected++;
      return;
    }
    const fields: TemplateField[] = new Array(count);
    for (let i = 0; i < count; i++, q += 4) {
      // Length 65535 is not in RFC 3954, but exporters send it (H3C's VRF name): it is read as
      // an IPFIX variable-length field, not a reason to refuse the whole template.
      fields[i] = { id: u16(b, q), length: u16(b, q + 2), enterprise: 0 };
    }
    d.defineTemplate(tid, 'data', fields, 0, false, w);
  }
}

function optionsTemplates(d: DomainState, b: Uint8Array, q: number, end: number, w: BatchWriter): void {
  while (q + 6 <= end) {
    const tid = u16(b, q);
    const scopeLen = u16(b, q + 2);
    const optLen = u16(b, q + 4);
    q += 6;
    if (tid < 256 || scopeLen % 4 !== 0 || optLen % 4 !== 0 || q + scopeLen + optLen > end) {
      if (tid !== 0) {
        d.counters.malformedSets++;
        d.counters.templatesRejected++;
      }
      return; // tid 0: padding
    }
    const fields: TemplateField[] = [];
    for (let stop = q + scopeLen + optLen; q < stop; q += 4) fields.push({ id: u16(b, q), length: u16(b, q + 2), enterprise: 0 });
    d.defineTemplate(tid, 'options', fields, scopeLen / 4, false, w);
  }
}
