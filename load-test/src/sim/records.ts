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

  /** Field by field (not by computed key) so the object keeps one fast shape. */
  private grow(): void {
    const cap = Math.max(4096, this.exp.length * 2);
    const f64 = (a: Float64Array) => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    const u32 = (a: Uint32Array) => {
      const b = new Uint32Array(cap);
      b.set(a);
      return b;
    };
    const u16 = (a: Uint16Array) => {
      const b = new Uint16Array(cap);
      b.set(a);
      return b;
    };
    const u8 = (a: Uint8Array) => {
      const b = new Uint8Array(cap);
      b.set(a);
      return b;
    };
    this.exp = f64(this.exp);
    this.start = f64(this.start);
    this.end = f64(this.end);
    this.pkts = f64(this.pkts);
    this.bytes = f64(this.bytes);
    this.sub = u32(this.sub);
    this.svc = u32(this.svc);
    this.subPort = u16(this.subPort);
    this.svcPort = u16(this.svcPort);
    this.flags = u8(this.flags);
    this.proto = u8(this.proto);
    this.tcpFlags = u8(this.tcpFlags);
    this.reason = u8(this.reason);
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
