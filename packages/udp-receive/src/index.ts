import { isIP } from 'node:net';
import { openBatchReceiver } from './batch-receiver.js';
import { openDgramReceiver } from './dgram-receiver.js';
import { loadAddon } from './native.js';
import type { ReceiveMode, UdpReceiver, UdpReceiverOptions } from './types.js';

export type { ReceiveMode, UdpReceiver, UdpReceiverOptions } from './types.js';

/** Whether recvmmsg batches can be used here, and if not why (for the log and `--help`). */
export function batchReceiveAvailable(): { available: true } | { available: false; why: string } {
  const a = loadAddon();
  return 'addon' in a ? { available: true } : { available: false, why: a.why };
}

/**
 * A bound UDP socket handing each datagram to `onDatagram`. `auto` takes recvmmsg batches
 * where the addon is built (Linux), node:dgram otherwise; `batch` insists (throws why not).
 */
export async function openUdpReceiver(o: UdpReceiverOptions, mode: ReceiveMode | 'auto' = 'auto'): Promise<UdpReceiver> {
  if (mode === 'dgram') return openDgramReceiver(o);
  // The addon binds IP literals; a host name or a scoped IPv6 address (fe80::1%eth0) is node:dgram's to resolve.
  const literal = isIP(o.address) !== 0 && !o.address.includes('%');
  if (!literal) {
    if (mode === 'batch') throw Object.assign(new Error(`batched receive binds IP addresses only, not ${o.address}`), { code: 'ERR_UDP_BATCH_UNAVAILABLE' });
    return openDgramReceiver(o);
  }
  const a = loadAddon();
  if ('addon' in a) return openBatchReceiver(a.addon, o);
  if (mode === 'batch') throw Object.assign(new Error(`batched receive is unavailable: ${a.why}`), { code: 'ERR_UDP_BATCH_UNAVAILABLE' });
  return openDgramReceiver(o);
}
