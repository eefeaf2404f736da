// The C helpers of the collector bench (load-test/native/*.c), compiled at run time with the
// system C compiler into load-test/.cache/bin/ when missing or older than their source.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, LOAD_TEST_DIR } from './corpus.js';

export type Tool = 'udp-sender' | 'udp-sink';

export function nativeTool(name: Tool): string {
  const src = join(LOAD_TEST_DIR, 'native', `${name}.c`);
  const bin = join(CACHE_DIR, 'bin', name);
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) {
    mkdirSync(join(CACHE_DIR, 'bin'), { recursive: true });
    const cc = process.env.CC ?? 'cc';
    try {
      execFileSync(cc, ['-O2', '-Wall', '-o', bin, src], { stdio: ['ignore', 'inherit', 'inherit'] });
    } catch (e) {
      throw new Error(`could not compile ${src} with ${cc} (Debian package gcc): ${(e as Error).message}`, { cause: e });
    }
  }
  return bin;
}
