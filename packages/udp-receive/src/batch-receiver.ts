import { isIP } from 'node:net';
import { getSystemErrorName } from 'node:util';
import type { UdpBatchAddon } from './native.js';
import type { UdpReceiver, UdpReceiverOptions } from './types.js';

/** Datagrams per recvmmsg call (and per callback into JavaScript). */
const SLOTS = 64;
/** Every UDP datagram fits (65,507 bytes over IPv4); only the pages a datagram touches are resident. */
const SLOT_BYTES = 65_536;
const ADDR_BYTES = 20;
/** Source addresses formatted once and looked up after (exporters are few; bounded anyway). */
const MAX_NAMES = 4096;

/**
 * recvmmsg(2) through the addon: up to 64 datagrams per system call and per callback, into
 * memory reused from batch to batch. Same datagrams, same source addresses as node:dgram.
 */
class BatchReceiver implements UdpReceiver {
  readonly mode = 'batch' as const;
  readonly port: number;
  readonly family: 4 | 6;
  readonly receiveBufferBytes: number;
  truncated = 0;
  private readonly data = new ArrayBuffer(SLOTS * SLOT_BYTES);
  private readonly lengths = new Int32Array(SLOTS);
  private readonly addrs = new Uint8Array(SLOTS * ADDR_BYTES);
  private readonly view = new DataView(this.addrs.buffer);
  private readonly names = new Map<number | string, string>();
  private readonly handle: object;
  private closed: Promise<void> | null = null;
  private readonly errorsSeen = new Set<number>();

  constructor(
    private readonly addon: UdpBatchAddon,
    private readonly fd: number,
    private readonly o: UdpReceiverOptions,
  ) {
    [this.port, this.receiveBufferBytes] = addon.info(fd);
    this.family = isIP(o.address) === 6 ? 6 : 4;
    this.handle = addon.start(fd, this.data, SLOT_BYTES, this.lengths, this.addrs, (n) => this.onBatch(n));
  }

  private onBatch(n: number): void {
    if (n < 0) {
      // A socket error (an ICMP error queued on the socket, say): once per kind, receiving goes on.
      if (!this.errorsSeen.has(n)) {
        this.errorsSeen.add(n);
        const code = getSystemErrorName(n);
        this.o.onError(Object.assign(new Error(`socket error on port ${this.port}: ${code}`), { code, errno: n, syscall: 'recvmmsg' }));
      }
      return;
    }
    const receivedMs = Date.now();
    for (let i = 0; i < n; i++) {
      const len = this.lengths[i]!;
      if (len < 0) {
        this.truncated++;
        continue;
      }
      this.o.onDatagram(Buffer.from(this.data, i * SLOT_BYTES, len), this.source(i), receivedMs);
    }
  }

  private source(i: number): string {
    const off = i * ADDR_BYTES;
    const v = this.view;
    // IPv4 (and IPv4-mapped on a dual-stack socket) keyed by its 32 bits, IPv6 by its text key.
    const key =
      this.addrs[off] === 4 ? v.getUint32(off + 4) : `${v.getUint32(off + 4)}:${v.getUint32(off + 8)}:${v.getUint32(off + 12)}:${v.getUint32(off + 16)}`;
    let name = this.names.get(key);
    if (name === undefined) {
      if (this.names.size >= MAX_NAMES) this.names.clear();
      name = this.addon.ntop(this.addrs, off);
      this.names.set(key, name);
    }
    return name;
  }

  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      if (!this.addon.stop(this.handle, resolve)) resolve();
    });
    return this.closed;
  }
}

export function openBatchReceiver(addon: UdpBatchAddon, o: UdpReceiverOptions): UdpReceiver {
  let fd: number;
  try {
    fd = addon.open(o.address, o.port, o.reusePort, o.receiveBufferBytes);
  } catch (err) {
    // As node:dgram's bind errors say it: which address and port.
    throw Object.assign(err as Error, { address: o.address, port: o.port });
  }
  try {
    return new BatchReceiver(addon, fd, o);
  } catch (err) {
    addon.close(fd);
    throw err;
  }
}
