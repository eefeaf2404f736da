import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The compiled addon (native/udp_batch.c); see build-native.mjs. */
export interface UdpBatchAddon {
  open(address: string, port: number, reusePort: boolean, receiveBufferBytes: number): number;
  info(fd: number): [port: number, receiveBufferBytes: number];
  ntop(addrs: Uint8Array, offset: number): string;
  start(fd: number, data: ArrayBuffer, slotSize: number, lengths: Int32Array, addrs: Uint8Array, onBatch: (n: number) => void): object;
  /** False when already closed (onClosed is then not called). */
  stop(handle: object, onClosed: () => void): boolean;
  close(fd: number): void;
}

/** Where `npm run build` puts the addon. */
export const ADDON_PATH = fileURLToPath(new URL('../build/udp_batch.node', import.meta.url));

let loaded: { addon: UdpBatchAddon } | { why: string } | null = null;

/** The addon, or why it cannot be used here (not Linux, not built: no C compiler at build time). */
export function loadAddon(): { addon: UdpBatchAddon } | { why: string } {
  if (loaded) return loaded;
  if (process.platform !== 'linux') return (loaded = { why: `recvmmsg is Linux only (this is ${process.platform})` });
  try {
    loaded = { addon: createRequire(import.meta.url)(ADDON_PATH) as UdpBatchAddon };
  } catch (err) {
    const code = (err as { code?: string }).code;
    loaded = {
      why:
        code === 'MODULE_NOT_FOUND'
          ? `${ADDON_PATH} is not built (npm run build compiles it when gcc is installed)`
          : `${ADDON_PATH} does not load: ${(err as Error).message}`,
    };
  }
  return loaded;
}
