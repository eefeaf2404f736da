/**
 * Frame Streams (farsightsec/fstrm), the transport of dnstap: big-endian u32 length-prefixed
 * data frames; a zero length escapes a control frame (u32 length, u32 type, then fields of
 * u32 type, u32 length, bytes). Bidirectional sockets open with READY → ACCEPT, then START,
 * data frames, STOP → FINISH; files hold START, data frames, STOP.
 */
export const CONTROL = { ACCEPT: 1, START: 2, STOP: 3, READY: 4, FINISH: 5 } as const;
export const FIELD_CONTENT_TYPE = 1;
export const DNSTAP_CONTENT_TYPE = 'protobuf:dnstap.Dnstap';
/** fstrm's own limit on control frames. */
export const MAX_CONTROL_FRAME = 512;

export interface FrameHandlers {
  /** One data frame (a view: copy it to keep it past the call). */
  data(frame: Uint8Array): void;
  control(type: number, contentTypes: string[]): void;
  /** A data frame larger than the limit: skipped by its length, never buffered. */
  oversized(length: number): void;
}

/**
 * Incremental reader: feed it chunks as they arrive (socket or file); frames are delivered as
 * soon as they are whole. After a protocol error (`error` set) it takes nothing more: the caller
 * closes the connection.
 */
export class FrameReader {
  private buf = Buffer.alloc(64 * 1024);
  private start = 0;
  private end = 0;
  /** Bytes of an oversized frame still to skip. */
  private skipping = 0;
  error: string | null = null;

  constructor(
    private readonly h: FrameHandlers,
    private readonly maxFrame = 1 << 20,
  ) {}

  /** Bytes received but not yet a whole frame (a connection that ends with some is cut mid-frame). */
  get pending(): number {
    return this.end - this.start + this.skipping;
  }

  push(chunk: Uint8Array): void {
    if (this.error) return;
    let c = chunk;
    if (this.skipping > 0) {
      const n = Math.min(this.skipping, c.length);
      this.skipping -= n;
      c = c.subarray(n);
      if (c.length === 0) return;
    }
    this.append(c);
    this.drain();
  }

  private append(c: Uint8Array): void {
    if (this.end + c.length > this.buf.length) {
      const live = this.end - this.start;
      if (live + c.length <= this.buf.length && this.start > 0) {
        this.buf.copy(this.buf, 0, this.start, this.end);
      } else {
        let size = this.buf.length;
        while (size < live + c.length) size *= 2;
        const next = Buffer.alloc(size);
        this.buf.copy(next, 0, this.start, this.end);
        this.buf = next;
      }
      this.start = 0;
      this.end = live;
    }
    this.buf.set(c, this.end);
    this.end += c.length;
  }

  private drain(): void {
    const b = this.buf;
    while (this.end - this.start >= 4) {
      const len = b.readUInt32BE(this.start);
      if (len > 0) {
        if (len > this.maxFrame) {
          this.h.oversized(len);
          const have = this.end - this.start - 4;
          if (have >= len) this.start += 4 + len;
          else {
            this.skipping = len - have;
            this.start = this.end = 0;
            return;
          }
          continue;
        }
        if (this.end - this.start < 4 + len) return;
        this.h.data(b.subarray(this.start + 4, this.start + 4 + len));
        this.start += 4 + len;
        continue;
      }
      if (this.end - this.start < 8) return;
      const clen = b.readUInt32BE(this.start + 4);
      if (clen < 4 || clen > MAX_CONTROL_FRAME) {
        this.error = `control frame of ${clen} bytes (at most ${MAX_CONTROL_FRAME})`;
        return;
      }
      if (this.end - this.start < 8 + clen) return;
      const p = this.start + 8;
      const type = b.readUInt32BE(p);
      const types: string[] = [];
      let q = p + 4;
      const stop = p + clen;
      while (q + 8 <= stop) {
        const ft = b.readUInt32BE(q);
        const fl = b.readUInt32BE(q + 4);
        if (q + 8 + fl > stop) {
          this.error = 'control frame field runs past its frame';
          return;
        }
        if (ft === FIELD_CONTENT_TYPE) types.push(b.toString('latin1', q + 8, q + 8 + fl));
        q += 8 + fl;
      }
      this.start += 8 + clen;
      this.h.control(type, types);
    }
    if (this.start === this.end) this.start = this.end = 0;
  }
}

/** A control frame with an optional content type field. */
export function controlFrame(type: number, contentType?: string): Buffer {
  const ct = contentType === undefined ? Buffer.alloc(0) : Buffer.from(contentType, 'latin1');
  const fields = contentType === undefined ? 0 : 8 + ct.length;
  const out = Buffer.alloc(12 + fields);
  out.writeUInt32BE(0, 0);
  out.writeUInt32BE(4 + fields, 4);
  out.writeUInt32BE(type, 8);
  if (contentType !== undefined) {
    out.writeUInt32BE(FIELD_CONTENT_TYPE, 12);
    out.writeUInt32BE(ct.length, 16);
    ct.copy(out, 20);
  }
  return out;
}

export function dataFrame(payload: Uint8Array): Buffer {
  const out = Buffer.alloc(4 + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.set(payload, 4);
  return out;
}
