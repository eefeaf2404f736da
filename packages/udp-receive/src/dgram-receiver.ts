import dgram from 'node:dgram';
import { isIP } from 'node:net';
import type { UdpReceiver, UdpReceiverOptions } from './types.js';

/** node:dgram: one callback and one Buffer per datagram; everywhere Node runs. */
export function openDgramReceiver(o: UdpReceiverOptions): Promise<UdpReceiver> {
  const type = isIP(o.address) === 6 ? 'udp6' : 'udp4';
  const sock = dgram.createSocket({ type, reuseAddr: false, reusePort: o.reusePort, recvBufferSize: o.receiveBufferBytes });
  sock.on('message', (msg, rinfo) => o.onDatagram(msg, rinfo.address, Date.now()));
  return new Promise((resolve, reject) => {
    // A bind failure (port in use) is the caller's to report, once; later errors go to onError.
    sock.once('error', reject);
    sock.bind(o.port, o.address, () => {
      sock.off('error', reject);
      sock.on('error', o.onError);
      try {
        sock.setRecvBufferSize(o.receiveBufferBytes);
      } catch {
        /* the kernel caps it at net.core.rmem_max; the caller reports what was granted */
      }
      const a = sock.address();
      let closed: Promise<void> | null = null;
      resolve({
        mode: 'dgram',
        port: a.port,
        family: a.family === 'IPv6' ? 6 : 4,
        receiveBufferBytes: sock.getRecvBufferSize(),
        truncated: 0,
        close: () => (closed ??= new Promise<void>((r) => sock.close(() => r()))),
      });
    });
  });
}
