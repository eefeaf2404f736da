/** How datagrams are read: `batch` = recvmmsg(2), many per call; `dgram` = node:dgram, one per callback. */
export type ReceiveMode = 'batch' | 'dgram';

export interface UdpReceiverOptions {
  /** Local address to bind (IPv4 or IPv6 text; `::` also receives IPv4, as IPv4-mapped addresses). */
  address: string;
  /** 0 = any free port. */
  port: number;
  /** Share the port with other sockets of this user (SO_REUSEPORT). */
  reusePort: boolean;
  /** Asked of the kernel (SO_RCVBUF, capped at net.core.rmem_max); what was granted is `receiveBufferBytes`. */
  receiveBufferBytes: number;
  /**
   * One datagram. `msg` is valid only during the call (batch mode reuses its memory): copy what
   * you keep. `address` is the source address as node:dgram writes it.
   */
  onDatagram: (msg: Buffer, address: string, receivedMs: number) => void;
  /** A socket error after the bind (the socket goes on receiving). */
  onError: (err: Error) => void;
}

export interface UdpReceiver {
  readonly mode: ReceiveMode;
  readonly port: number;
  readonly family: 4 | 6;
  /** Granted by the kernel (Linux reports twice the request, its bookkeeping included). */
  readonly receiveBufferBytes: number;
  /** Datagrams too long for a slot, dropped (never in batch mode: a slot holds 64 KiB). */
  readonly truncated: number;
  close(): Promise<void>;
}
