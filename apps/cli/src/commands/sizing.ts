import type { Command } from 'commander';
import { positiveInt } from '../args.js';
import { action, runtime } from '../runtime.js';
import { renderSizing, sizing } from '../sizing.js';

export function registerSizingCommands(program: Command): void {
  program
    .command('sizing')
    .description(
      'what a deployment needs (flows/s, collector and pipeline cores, Kafka partitions and disk, ClickHouse rows and disk), from the project’s measured figures (docs/sizing.md)',
    )
    .requiredOption('--lines <n>', 'subscriber lines (hosts at an IXP)', positiveInt)
    .option('--exporters <n>', 'routers exporting flows', positiveInt, 10)
    .option('--sampling <n>', '1:N packet sampling', positiveInt, 1000)
    .option(
      '--flows-per-line-day <n>',
      'sampled flow records per line and day, measured on your exporters (default: the simulated ISP, scaled to the rate)',
      positiveInt,
    )
    .option('--json', 'print the figures as JSON')
    .addHelpText(
      'after',
      `
Retention comes from the configuration (detector.retention.evidenceDays and .detectionDays).
Every per-unit figure is a measurement of this project on a 2-core machine; docs/sizing.md says
which benchmark each comes from and where the estimate is weakest (the traffic per line).

Examples:
  haystack sizing --lines 1000000 --sampling 1000
  haystack sizing --lines 100000 --exporters 4 --sampling 100 --flows-per-line-day 900
`,
    )
    .action(
      action((opts: { lines: number; exporters: number; sampling: number; flowsPerLineDay?: number; json?: boolean }, cmd: Command) => {
        const { config } = runtime(cmd);
        const s = sizing({
          lines: opts.lines,
          exporters: opts.exporters,
          sampling: opts.sampling,
          evidenceDays: config.detector.retention.evidenceDays,
          detectionDays: config.detector.retention.detectionDays,
          flowsPerLineDay: opts.flowsPerLineDay ?? null,
        });
        process.stdout.write(opts.json ? `${JSON.stringify(s, null, 1)}\n` : renderSizing(s));
      }),
    );
}
