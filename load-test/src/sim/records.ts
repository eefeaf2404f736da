/**
 * Finished flow records waiting for export, as parallel typed arrays (no object per record).
 * A record leaves the flow cache at its expiry time (the export time); the generator hands
 * records over in hour slots, and records whose expiry lies beyond the slot stay here.
 */
export const FLAG_V6 = 1;
/** Set: service → subscriber (downstream); clear: subscriber → service. */
export const FLAG_DOWN = 2;

export class RecordStore {
  n = 0;
  exp = new Float64Array(0);
  start = new Float64Array(0);
  end = new Float64Array(0);
  pkts = new Float64Array(0);
  bytes = new Float64Array(0);
  /** Subscriber side: IPv4 address, or V6Table index when FLAG_V6. */
  sub = new Uint32Array(0);
  /** Service side: IPv4 address, or V6Table index when FLAG_V6. */
  svc = new Uint32Array(0);
  subPort = new Uint16Array(0);
  svcPort = new Uint16Array(0);
  flags = new Uint8Array(0);
  proto = new Uint8Array(0);
  tcpFlags = new Uint8Array(0);
  /** flowEndReason (IE 136): 1 idle timeout, 2 active timeout. */
  reason = new Uint8Array(0);

  private grow(): void {
    const cap = Math.max(4096, this.exp.length * 2);
    for (const k of ['exp', 'start', 'end', 'pkts', 'bytes', 'sub', 'svc', 'subPort', 'svcPort', 'flags', 'proto', 'tcpFlags', 'reason'] as const) {
      const old = this[k];
      const arr = new (old.constructor as new (n: number) => typeof old)(cap);
      arr.set(old as never);
      (this as Record<string, unknown>)[k] = arr;
    }
  }

  push(exp: number, start: number, end: number, pkts: number, bytes: number, sub: number, svc: number, subPort: number, svcPort: number, flags: number, proto: number, tcpFlags: number, reason: number): void {
    if (this.n === this.exp.length) this.grow();
    const i = this.n++;
    this.exp[i] = exp;
    this.start[i] = start;
    this.end[i] = end;
    this.pkts[i] = pkts;
    this.bytes[i] = bytes;
    this.sub[i] = sub;
    this.svc[i] = svc;
    this.subPort[i] = subPort;
    this.svcPort[i] = svcPort;
    this.flags[i] = flags;
    this.proto[i] = proto;
    this.tcpFlags[i] = tcpFlags;
    this.reason[i] = reason;
  }

  private order = new Int32Array(0);
  private counts = new Int32Array(0);

  /**
   * Indices of the records exported at or before `until` (ms), ordered by export second
   * (counting sort: linear, stable), then `remove()` drops them. Returns [order, count].
   */
  due(until: number): [Int32Array, number] {
    let lo = Infinity;
    let hi = -Infinity;
    let m = 0;
    for (let i = 0; i < this.n; i++) {
      const e = this.exp[i]!;
      if (e > until) continue;
      m++;
      const s = Math.ceil(e / 1000);
      if (s < lo) lo = s;
      if (s > hi) hi = s;
    }
    if (this.order.length < m) this.order = new Int32Array(Math.max(m, this.order.length * 2));
    if (m === 0) return [this.order, 0];
    const span = hi - lo + 2;
    if (this.counts.length < span) this.counts = new Int32Array(span);
    const c = this.counts;
    c.fill(0, 0, span);
    for (let i = 0; i < this.n; i++) {
      const e = this.exp[i]!;
      if (e <= until) c[Math.ceil(e / 1000) - lo + 1]!++;
    }
    for (let k = 1; k < span; k++) c[k]! += c[k - 1]!;
    for (let i = 0; i < this.n; i++) {
      const e = this.exp[i]!;
      if (e <= until) this.order[c[Math.ceil(e / 1000) - lo]!++] = i;
    }
    return [this.order, m];
  }

  /** Keep only the records exported after `until`. */
  removeDue(until: number): void {
    let w = 0;
    for (let i = 0; i < this.n; i++) {
      if (this.exp[i]! <= until) continue;
      if (w !== i) {
        this.exp[w] = this.exp[i]!;
        this.start[w] = this.start[i]!;
        this.end[w] = this.end[i]!;
        this.pkts[w] = this.pkts[i]!;
        this.bytes[w] = this.bytes[i]!;
        this.sub[w] = this.sub[i]!;
        this.svc[w] = this.svc[i]!;
        this.subPort[w] = this.subPort[i]!;
        this.svcPort[w] = this.svcPort[i]!;
        this.flags[w] = this.flags[i]!;
        this.proto[w] = this.proto[i]!;
        this.tcpFlags[w] = this.tcpFlags[i]!;
        this.reason[w] = this.reason[i]!;
      }
      w++;
    }
    this.n = w;
  }
}
