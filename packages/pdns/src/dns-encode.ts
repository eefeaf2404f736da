import { isIPv4 } from 'node:net';
import { parseAddress } from '@haystack/common';

/**
 * A DNS response as a resolver would send it: one question, an answer section of A, AAAA and
 * CNAME records, names compressed against earlier ones. For the simulator's resolver feed and
 * hand-built test messages; clarity over speed.
 */
export interface AnswerSpec {
  name: string;
  type: 'A' | 'AAAA' | 'CNAME';
  data: string;
  ttl?: number;
}

const TYPES = { A: 1, AAAA: 28, CNAME: 5 } as const;

export function encodeDnsResponse(qname: string, qtype: 'A' | 'AAAA', answers: AnswerSpec[], id = 0x1234, rcode = 0): Buffer {
  const parts: Buffer[] = [];
  let size = 12;
  const offsets = new Map<string, number>();
  const name = (n: string): Buffer => {
    const labels = n.replace(/\.$/, '').split('.');
    const out: Buffer[] = [];
    let at = size;
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.').toLowerCase();
      const known = offsets.get(suffix);
      if (known !== undefined) {
        out.push(Buffer.from([0xc0 | (known >> 8), known & 0xff]));
        return Buffer.concat(out);
      }
      offsets.set(suffix, at);
      const l = Buffer.from(labels[i]!, 'latin1');
      out.push(Buffer.from([l.length]), l);
      at += 1 + l.length;
    }
    out.push(Buffer.from([0]));
    return Buffer.concat(out);
  };
  const push = (b: Buffer) => {
    parts.push(b);
    size += b.length;
  };
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x8180 | (rcode & 0x0f), 2); // response, RD, RA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  parts.push(header);
  push(name(qname));
  push(Buffer.from([0, TYPES[qtype], 0, 1]));
  for (const a of answers) {
    push(name(a.name));
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(TYPES[a.type], 0);
    fixed.writeUInt16BE(1, 2);
    fixed.writeUInt32BE(a.ttl ?? 300, 4);
    let rdata: Buffer;
    if (a.type === 'CNAME') {
      size += 10; // the target is compressed against offsets after the fixed part
      rdata = name(a.data);
      size -= 10;
    } else {
      const bytes = parseAddress(a.data);
      if ((a.type === 'A') !== isIPv4(a.data)) throw new Error(`${a.type} record with data ${a.data}`);
      rdata = Buffer.from(a.type === 'A' ? bytes.subarray(12) : bytes);
    }
    fixed.writeUInt16BE(rdata.length, 8);
    push(fixed);
    push(rdata);
  }
  return Buffer.concat(parts);
}
