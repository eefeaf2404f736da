import { u16, u32 } from '@haystack/common';
import type { BatchWriter } from '@haystack/flow-core';
import { VARLEN } from '../template/fields.js';
import type { TemplateField } from '../template/compile.js';
import type { TemplateRegistry, DomainState } from '../template/state.js';

export const IPFIX_HEADER = 16;
const TEMPLATE_SET = 2;
const OPTIONS_TEMPLATE_SET = 3;

/**
 * IPFIX (RFC 7011). Templates keyed by exporter + observation domain + template id,
 * withdrawals (one id, all data templates, all options templates), variable-length and
 * enterprise-specific elements. The sequence number counts data records per domain.
 * Returns records decoded, or -1 for a message whose header cannot be trusted.
 * Never throws on packet contents: problems are counted in the domain's counters.
 */
export function decodeIpfix(b: Uint8Array, exporter: Uint8Array, exporterText: string, receivedMs: number, reg: TemplateRegistry, w: BatchWriter): number {
  if (b.length < IPFIX_HEADER) return -1;
  const msgLen = u16(b, 2);
  if (msgLen < IPFIX_HEADER) return -1;
  const exportS = u32(b, 4);
  const seq = u32(b, 8);
  const domainId = u32(b, 12);
  const d = reg.get(exporter, exporterText, 10, domainId);
  if (!d) return -1;
  d.beginPacket(exportS * 1000, NaN, receivedMs);
  let len = msgLen;
  let malformed = false;
  if (msgLen > b.length) {
    malformed = true; // truncated in transit: decode the whole sets we have
    len = b.length;
  } else if (msgLen < b.length) {
    d.counters.trailingBytes++; // bytes after the message: not ours to guess at
  }
  let records = 0;
  let dataRecords = 0; // data + options data records, for the sequence number
  let optionRecords = 0;
  let seqKnown = true;
  let p = IPFIX_HEADER;
  while (p + 4 <= len) {
    const id = u16(b, p);
    const setLen = u16(b, p + 2);
    if (setLen < 4 || p + setLen > len) {
      d.counters.malformedSets++;
      malformed = true;
      seqKnown = false;
      break;
    }
    const end = p + setLen;
    if (id === TEMPLATE_SET) templates(d, b, p + 4, end, w, false);
    else if (id === OPTIONS_TEMPLATE_SET) templates(d, b, p + 4, end, w, true);
    else if (id >= 256) {
      const opt = d.templates.get(id)?.kind === 'options';
      const before = d.counters.optionsRecords;
      const n = d.dataSet(id, b, p + 4, end, w);
      if (n < 0) seqKnown = false;
      else {
        if (!opt) records += n;
        const o = opt ? d.counters.optionsRecords - before : 0;
        // As exported (reverse records made from biflows and skipped NSEL events do not change the count).
        dataRecords += opt ? o : d.lastSetRecords;
        optionRecords += o;
      }
    }
    p = end;
  }
  if (malformed) d.counters.malformedPackets++;
  else if (p < len) d.counters.trailingBytes++;
  d.sequence(seq, seqKnown ? dataRecords : NaN, optionRecords);
  return records;
}

function templates(d: DomainState, b: Uint8Array, q: number, end: number, w: BatchWriter, options: boolean): void {
  const head = options ? 6 : 4;
  while (q + 4 <= end) {
    const tid = u16(b, q);
    const count = u16(b, q + 2);
    if (tid === 0 && count === 0) return; // set padding
    if (count === 0) {
      // Withdrawal (RFC 7011 §8.1): the set id itself means "all templates of this set's kind".
      if (tid === TEMPLATE_SET && !options) d.withdrawAll('data');
      else if (tid === OPTIONS_TEMPLATE_SET && options) d.withdrawAll('options');
      else if (tid >= 256) d.withdrawTemplate(tid);
      else d.counters.templatesRejected++;
      q += 4;
      continue;
    }
    if (q + head > end) {
      d.counters.malformedSets++;
      return;
    }
    const scopeCount = options ? u16(b, q + 4) : 0;
    q += head;
    if (q + count * 4 > end) {
      // Fewer bytes than the field count needs: refuse before allocating for a lie.
      d.counters.malformedSets++;
      d.counters.templatesRejected++;
      return;
    }
    const fields: TemplateField[] = new Array(count);
    for (let i = 0; i < count; i++) {
      if (q + 4 > end) {
        d.counters.malformedSets++;
        d.counters.templatesRejected++;
        return;
      }
      const raw = u16(b, q);
      const length = u16(b, q + 2);
      q += 4;
      let enterprise = 0;
      if (raw & 0x8000) {
        if (q + 4 > end) {
          d.counters.malformedSets++;
          d.counters.templatesRejected++;
          return;
        }
        enterprise = u32(b, q) || 0xffffffff; // enterprise 0 with the bit set is still private
        q += 4;
      }
      fields[i] = { id: raw & 0x7fff, length, enterprise };
    }
    if (tid < 256 || (options && (scopeCount === 0 || scopeCount > count))) {
      d.counters.templatesRejected++;
      continue;
    }
    d.defineTemplate(tid, options ? 'options' : 'data', fields, scopeCount, true, w);
  }
}

export { VARLEN };
