import { readFileSync, statSync } from 'node:fs';
import { parseAddress, parsePrefix, word } from '@haystack/common';

/**
 * Which IPv6 prefix belongs to which IPv4 address of the same subscriber (a dual-stack line),
 * from a file the operator exports daily from RADIUS/DHCP accounting: one `ipv4,ipv6-prefix`
 * per line (`#` comments and a header are allowed). With it, a subscriber's IPv6 flows are
 * counted under its IPv4 line, so one dual-stack subscriber is one line, not two. The file is
 * read again when it changes (checked at most once a minute); a file with no valid row is refused.
 */
export class SubscriberMap {
  private map = new Map<string, number>();
  private mtimeMs = 0;
  private checkedAt = 0;
  /** Rows skipped as invalid in the last read (logged by the caller). */
  skipped = 0;

  constructor(
    readonly path: string,
    private readonly prefixLength: number,
  ) {
    this.load();
  }

  get size(): number {
    return this.map.size;
  }

  private load(): void {
    const st = statSync(this.path);
    const text = readFileSync(this.path, 'utf8');
    const next = new Map<string, number>();
    let skipped = 0;
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith('#') || /^ipv4\s*,/i.test(line)) continue;
      const [v4, v6] = line.split(',').map((x) => x.trim());
      try {
        const a4 = parseAddress(v4!);
        const p6 = parsePrefix(v6!);
        if (a4[10] !== 0xff || a4[11] !== 0xff || p6.bits < this.prefixLength) throw new Error('not ipv4,ipv6-prefix');
        next.set(this.keyOf(p6.bytes), word(a4, 12));
      } catch {
        skipped++;
      }
    }
    if (next.size === 0) throw new Error(`subscriber map ${this.path} has no valid "ipv4,ipv6-prefix" row (${skipped} invalid)`);
    this.map = next;
    this.skipped = skipped;
    this.mtimeMs = st.mtimeMs;
  }

  /** The line's first 64 bits masked to the line prefix length. */
  private keyOf(b: Uint8Array): string {
    const low = this.prefixLength >= 64 ? word(b, 4) : this.prefixLength <= 32 ? 0 : (word(b, 4) & (0xffffffff << (64 - this.prefixLength))) >>> 0;
    return `${word(b, 0)}:${low}`;
  }

  /** The IPv4 address (as a word) of the subscriber owning the IPv6 line (a, b words), or -1. */
  ipv4For(a: number, b: number): number {
    const now = Date.now();
    if (now - this.checkedAt > 60_000) {
      this.checkedAt = now;
      try {
        if (statSync(this.path).mtimeMs !== this.mtimeMs) this.load();
      } catch {
        /* keep the last good map */
      }
    }
    return this.map.get(`${a}:${b}`) ?? -1;
  }
}
