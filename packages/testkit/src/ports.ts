import dgram from 'node:dgram';
import { createServer } from 'node:net';

/** A port free on 127.0.0.1 right now (bound, read, released): for a process a test starts. */
export function freePort(kind: 'tcp' | 'udp' = 'tcp'): Promise<number> {
  return new Promise((res, rej) => {
    if (kind === 'udp') {
      const s = dgram.createSocket('udp4');
      s.once('error', rej);
      s.bind(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => res(p));
      });
      return;
    }
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}
