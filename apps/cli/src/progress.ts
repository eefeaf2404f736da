import { Presets, SingleBar } from 'cli-progress';

/**
 * How far a long replay got, on a terminal only (pipes and logs get nothing): one bar on stderr
 * for `replay`, `detect --replay` and `demo`, numbers grouped as everywhere else ("12,345").
 */
export interface ReplayProgress {
  onProgress(done: number, total: number, datagrams: number): void;
  stop(): void;
}

export function replayProgress(label: string, enabled = true): ReplayProgress {
  const bar =
    enabled && process.stderr.isTTY
      ? new SingleBar(
          { format: `${label} |{bar}| {percentage}% | {datagrams} datagrams | {eta_formatted} left`, stream: process.stderr, etaBuffer: 50 },
          Presets.shades_classic,
        )
      : null;
  bar?.start(1, 0, { datagrams: '0' });
  return {
    onProgress(done, total, datagrams) {
      bar?.setTotal(total);
      bar?.update(done, { datagrams: datagrams.toLocaleString('en-US') });
    },
    stop() {
      bar?.stop();
    },
  };
}
