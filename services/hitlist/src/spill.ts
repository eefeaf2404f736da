import { closeSync, openSync, writeSync } from 'node:fs';

/**
 * An append-only temporary file written in 1 MiB blocks with synchronous writes: the
 * input callbacks are synchronous, and the disk, not memory, absorbs the input's size.
 * The build reads it back several times (see resolve.ts) instead of holding it.
 */
export class SpillWriter {
  private fd: number;
  private buf = Buffer.allocUnsafe(1 << 20);
  private pos = 0;
  lines = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }

  write(line: string): void {
    const need = Buffer.byteLength(line) + 1;
    if (this.pos + need > this.buf.length) this.flush();
    if (need > this.buf.length) {
      writeSync(this.fd, line + '\n');
    } else {
      this.pos += this.buf.write(line, this.pos);
      this.buf[this.pos++] = 10;
    }
    this.lines++;
  }

  private flush(): void {
    let off = 0;
    while (off < this.pos) off += writeSync(this.fd, this.buf, off, this.pos - off);
    this.pos = 0;
  }

  close(): void {
    if (this.fd < 0) return;
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
  }
}
