/**
 * Finished flow records waiting for export (no object per record). A record leaves the flow
 * cache at its expiry time (the export time); the generator hands records over in hour
 * slots, and records whose expiry lies beyond the slot stay here.
 *
 * One record is one 64-byte cache line: the encoder reads records in export-time order,
 * which scatters them over the store, and thirteen parallel arrays cost thirteen cache misses
 * per record where this layout costs one.
 *
 *   f64[8r + 0] export time (ms)   f64[8r + 1] start   f64[8r + 2] end
 *   f64[8r + 3] packets            f64[8r + 4] bytes
 *   u32[16r + 10] subscriber side (IPv4 address, or V6Table index when FLAG_V6)
 *   u32[16r + 11] service side (likewise)
 *   u32[16r + 12] subscriber port << 16 | service port
 *   u32[16r + 13] flags | protocol << 8 | TCP flags << 16 | flowEndReason << 24
 */
export const FLAG_V6 = 1;
/** Set: service → subscriber (downstream); clear: subscriber → service. */
export const FLAG_DOWN = 2;

export const REC_F64 = 8;
export const REC_U32 = 16;
export const U_SUB = 10;
export const U_SVC = 11;
export const U_PORTS = 12;
export const U_MISC = 13;

export class RecordStore {
  n = 0;
  f64 = new Float64Array(0);
  u32 = new Uint32Array(0);

  private grow(): void {
    const cap = Math.max(4096, (this.f64.length / REC_F64) * 2);
    const f = new Float64Array(cap * REC_F64);
    f.set(this.f64);
    this.f64 = f;
    this.u32 = new Uint32Array(f.buffer);
  }

  push(
    exp: number,
    start: number,
    end: number,
    pkts: number,
    bytes: number,
    sub: number,
    svc: number,
    subPort: number,
    svcPort: number,
    flags: number,
    proto: number,
    tcpFlags: number,
    reason: number,
  ): void {
    if (this.n * REC_F64 === this.f64.length) this.grow();
    const i = this.n++;
    const f = this.f64;
    const o = i * REC_F64;
    f[o] = exp;
    f[o + 1] = start;
    f[o + 2] = end;
    f[o + 3] = pkts;
    f[o + 4] = bytes;
    const u = this.u32;
    const q = i * REC_U32;
    u[q + U_SUB] = sub;
    u[q + U_SVC] = svc;
    u[q + U_PORTS] = ((subPort << 16) | svcPort) >>> 0;
    u[q + U_MISC] = (flags | (proto << 8) | (tcpFlags << 16) | (reason << 24)) >>> 0;
  }

  exp(i: number): number {
    return this.f64[i * REC_F64]!;
  }

  flags(i: number): number {
    return this.u32[i * REC_U32 + U_MISC]! & 255;
  }

  private order = new Int32Array(0);
  private counts = new Int32Array(0);

  /**
   * Indices of the records exported at or before `until` (ms), ordered by export second
   * (counting sort: linear, stable). Returns [order, count]; `removeDue` then drops them.
   */
  due(until: number): [Int32Array, number] {
    const f = this.f64;
    let lo = Infinity;
    let hi = -Infinity;
    let m = 0;
    for (let i = 0; i < this.n; i++) {
      const e = f[i * REC_F64]!;
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
      const e = f[i * REC_F64]!;
      if (e <= until) c[Math.ceil(e / 1000) - lo + 1]!++;
    }
    for (let k = 1; k < span; k++) c[k]! += c[k - 1]!;
    for (let i = 0; i < this.n; i++) {
      const e = f[i * REC_F64]!;
      if (e <= until) this.order[c[Math.ceil(e / 1000) - lo]!++] = i;
    }
    return [this.order, m];
  }

  /** Keep only the records exported after `until`. */
  removeDue(until: number): void {
    const f = this.f64;
    let w = 0;
    for (let i = 0; i < this.n; i++) {
      if (f[i * REC_F64]! <= until) continue;
      if (w !== i) f.copyWithin(w * REC_F64, i * REC_F64, (i + 1) * REC_F64);
      w++;
    }
    this.n = w;
  }
}
