import { readFileSync } from 'node:fs';
import { parsePrefix } from '@haystack/common';

/**
 * Longest-prefix IP → origin AS, the last way to attribute a host to a member. Read from
 * CAIDA's RouteViews prefix2as files ("prefix<TAB>length<TAB>AS", AS sets "a,b" and multi-origin
 * "a_b" take the first), a maintained offline dataset published daily that needs no API and no
 * BGP session, or from "prefix/len AS" lines (e.g. a routing table dump reduced with awk).
 */
export class RouteTable {
  /** Per prefix length (0..128 in the IPv4-mapped space), masked address bytes (hex) → AS. */
  private readonly byLength = new Map<number, Map<string, number>>();
  private lengths: number[] = [];
  size = 0;

  add(prefix: string, asn: number): void {
    const p = parsePrefix(prefix);
    let m = this.byLength.get(p.bits);
    if (!m) {
      this.byLength.set(p.bits, (m = new Map()));
      this.lengths = [...this.byLength.keys()].sort((a, b) => b - a);
    }
    const key = Buffer.from(p.bytes).toString('hex');
    if (!m.has(key)) this.size++;
    m.set(key, asn);
  }

  /** The AS of the longest prefix holding `addr` (16 bytes at `at`, IPv4-mapped for IPv4), or 0. */
  lookup(addr: Uint8Array, at = 0): number {
    const b = Buffer.alloc(16);
    for (const len of this.lengths) {
      b.fill(0);
      const full = len >> 3;
      for (let i = 0; i < full; i++) b[i] = addr[at + i]!;
      if (len & 7) b[full] = addr[at + full]! & (0xff << (8 - (len & 7)));
      const asn = this.byLength.get(len)!.get(b.toString('hex'));
      if (asn !== undefined) return asn;
    }
    return 0;
  }

  /**
   * Parse a table: CAIDA prefix2as ("prefix<TAB>length<TAB>AS"), "prefix/len AS", or the CSV
   * "prefix/len,AS" many exports write (a header line of names first is skipped). A line that is
   * none of these is an error naming file and line (one bad line, one clear message).
   */
  static parse(text: string, name = 'route table'): RouteTable {
    const t = new RouteTable();
    let seen = false;
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      const first = !seen;
      seen = true;
      const csv = line.includes(',') && !/\s/.test(line.split(',')[0]!);
      // A CSV header ("prefix,asn", "network,origin_as"): names, no address.
      if (first && csv && !/[0-9a-f:.]+\/\d+/i.test(line.split(',')[0]!) && !/\d/.test(line.split(',')[1] ?? '')) return;
      const f = csv ? line.split(',').map((x) => x.trim().replace(/^"|"$/g, '')) : line.split(/\s+/);
      let prefix: string;
      let asText: string;
      if (f.length >= 3 && /^\d+$/.test(f[1]!)) [prefix, asText] = [`${f[0]}/${f[1]}`, f[2]!];
      else if (f.length >= 2 && f[0]!.includes('/')) [prefix, asText] = [f[0]!, f[1]!];
      else throw new Error(`${name}:${i + 1}: expected "prefix<TAB>length<TAB>AS", "prefix/len AS" or "prefix/len,AS"`);
      const asn = Number(asText.split(/[,_]/)[0]);
      if (!Number.isInteger(asn) || asn <= 0 || asn > 4294967295) throw new Error(`${name}:${i + 1}: ${JSON.stringify(asText)} is not an AS number`);
      try {
        t.add(prefix, asn);
      } catch (e) {
        throw new Error(`${name}:${i + 1}: ${(e as Error).message}`, { cause: e });
      }
    });
    return t;
  }

  static load(path: string): RouteTable {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new Error(`route table ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, { cause: e });
    }
    return RouteTable.parse(text, `route table ${path}`);
  }
}
