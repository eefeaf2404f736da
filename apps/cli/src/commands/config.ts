import type { Command } from 'commander';
import { stringify } from 'yaml';
import { action, runtime } from '../runtime.js';

export function registerConfigCommands(program: Command): void {
  const cfg = program.command('config').description('inspect the effective configuration');
  cfg
    .command('show')
    .description('print the validated configuration (file + environment + defaults) as YAML')
    .action(
      action((_opts: unknown, cmd: Command) => {
        const { config } = runtime(cmd);
        const redacted = {
          ...config,
          clickhouse: { ...config.clickhouse, password: config.clickhouse.password ? '***' : '' },
          detector: { ...config.detector, lineKey: config.detector.lineKey ? '***' : config.detector.lineKey },
        };
        process.stdout.write(stringify(redacted));
      }),
    );
}
