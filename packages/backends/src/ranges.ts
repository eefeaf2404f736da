import { DatasetError } from './datasets.js';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { isIP } from 'node:net';
import { parseAddress } from '@haystack/common';

/**
 * Range datasets ("start,end,value…" per line, sorted by start: the @ip-location-db CSVs and
 * the files their GitHub releases publish) looked up for a few thousand addresses at once by one
 * pass over the file (a merge of two sorted lists): nothing of a 500,000-row table is kept but
 * the rows that hold a wanted address.
 */
export interface RangeHit {
  /** The row's fields after start and end (e.g. [asn, organisation], or [country]). */
  fields: string[];
}

/** Sort key of an address: IPv4 as a number, IPv6 as 32 hex digits (IPv4-mapped never mixes with IPv4 files). */
function keyOf(text: string): { v4: number } | { v6: string } {
  if (isIP(text) === 4) {
    const p = text.split('.').map(Number);
    return { v4: ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0 };
  }
  return { v6: Buffer.from(parseAddress(text)).toString('hex') };
}

/** Split one CSV line (quoted fields with commas, as the AS organisation column has). */
export function csvFields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let s = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) {
          s += line.slice(i);
          i = line.length + 1;
          break;
        }
        s += line.slice(i, q);
        if (line[q + 1] === '"') {
          s += '"';
          i = q + 2;
        } else {
          i = q + 2;
          break;
        }
      }
      out.push(s);
    } else {
      const c = line.indexOf(',', i);
      if (c < 0) {
        out.push(line.slice(i));
        break;
      }
      out.push(line.slice(i, c));
      i = c + 1;
    }
  }
  return out;
}

/**
 * Look up `addresses` (text, IPv4 or IPv6) in range files: each file holds one family, sorted
 * by start. Returns the row holding each address found; addresses in no row are absent. A file
 * that is not sorted, or a line that is not a range, is an error naming file and line.
 */
export async function lookupRanges(files: string[], addresses: Iterable<string>): Promise<Map<string, RangeHit>> {
  const v4: { n: number; text: string }[] = [];
  const v6: { h: string; text: string }[] = [];
  for (const a of new Set(addresses)) {
    const k = keyOf(a);
    if ('v4' in k) v4.push({ n: k.v4, text: a });
    else v6.push({ h: k.v6, text: a });
  }
  v4.sort((a, b) => a.n - b.n);
  v6.sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : 0));
  const out = new Map<string, RangeHit>();
  for (const file of files) {
    let i4 = 0;
    let i6 = 0;
    let last4 = -1;
    let last6 = '';
    let lineNo = 0;
    const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    // One family per file: stop reading once its wanted addresses are all behind.
    for await (const line of rl) {
      lineNo++;
      if (!line || line.startsWith('#')) continue;
      const c1 = line.indexOf(',');
      const c2 = c1 < 0 ? -1 : line.indexOf(',', c1 + 1);
      if (c1 < 0 || c2 < 0) throw new DatasetError(`${file}:${lineNo}: expected "start,end,value"`);
      const start = line.slice(0, c1);
      const end = line.slice(c1 + 1, c2);
      const fam = isIP(start);
      if (fam === 0 || isIP(end) !== fam) {
        // A header line of names is skipped; anything else is not a range.
        if (lineNo === 1 && !/\d/.test(start)) continue;
        throw new DatasetError(`${file}:${lineNo}: ${JSON.stringify(start)}–${JSON.stringify(end)} is not an address range`);
      }
      if (fam === 4) {
        const s = (keyOf(start) as { v4: number }).v4;
        if (s < last4) throw new DatasetError(`${file}:${lineNo}: not sorted by range start`);
        last4 = s;
        while (i4 < v4.length && v4[i4]!.n < s) i4++;
        if (i4 >= v4.length) break; // every wanted IPv4 address is behind us
        const e = (keyOf(end) as { v4: number }).v4;
        if (v4[i4]!.n > e) continue;
        const fields = csvFields(line).slice(2);
        for (; i4 < v4.length && v4[i4]!.n <= e; i4++) out.set(v4[i4]!.text, { fields });
      } else {
        const s = (keyOf(start) as { v6: string }).v6;
        if (s < last6) throw new DatasetError(`${file}:${lineNo}: not sorted by range start`);
        last6 = s;
        while (i6 < v6.length && v6[i6]!.h < s) i6++;
        if (i6 >= v6.length) break;
        const e = (keyOf(end) as { v6: string }).v6;
        if (v6[i6]!.h > e) continue;
        const fields = csvFields(line).slice(2);
        for (; i6 < v6.length && v6[i6]!.h <= e; i6++) out.set(v6[i6]!.text, { fields });
      }
    }
  }
  return out;
}
