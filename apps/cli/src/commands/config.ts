import type { Command } from 'commander';
import { stringify } from 'yaml';
import { existsSync } from 'node:fs';
import { configSchema } from '@haystack/common';
import { loadMemberExport, RouteTable } from '@haystack/ixp';
import { action, runtime, UserError } from '../runtime.js';

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
        // The files the configuration names are read as the services would read them: a bad
        // one is found here, named by its key, before anything runs.
        const problems: string[] = [];
        if (config.detector.rulesDir !== null && !existsSync(config.detector.rulesDir))
          problems.push(`detector.rulesDir: ${config.detector.rulesDir}: no such directory`);
        if (config.deployment === 'ixp') {
          if (!config.ixp.memberExport) problems.push('ixp.memberExport: deployment "ixp" needs the IXP\'s IX-F member export (JSON)');
          else
            try {
              loadMemberExport(config.ixp.memberExport);
            } catch (e) {
              problems.push(`ixp.memberExport: ${(e as Error).message}`);
            }
          if (config.ixp.routeTable)
            try {
              RouteTable.load(config.ixp.routeTable);
            } catch (e) {
              problems.push(`ixp.routeTable: ${(e as Error).message}`);
            }
        }
        process.stdout.write(stringify(redacted));
        const defaultPrefixes = configSchema.parse({}).ingest.subscriberPrefixes;
        if (config.deployment === 'ixp' && config.ingest.subscriberPrefixes.join(' ') !== defaultPrefixes.join(' '))
          process.stderr.write(
            'note: ingest.subscriberPrefixes is not used at an IXP: hosts are the end of a flow that is not on the hitlist, attributed to members (ixp.memberExport)\n',
          );
        if (problems.length) throw new UserError(problems.length === 1 ? problems[0]! : `${problems.length} problems:\n  ${problems.join('\n  ')}`, 2);
      }),
    );
}
