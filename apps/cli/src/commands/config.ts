import type { Command } from 'commander';
import { stringify } from 'yaml';
import { copyFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SHIPPED_RULES_DIR } from '@haystack/rules';
import { configSchema } from '@haystack/common';
import { loadMemberExport, RouteTable } from '@haystack/ixp';
import { action, runtime, UserError } from '../runtime.js';

/** Every key with its default and meaning, beside the shipped dictionary (repository root, and in the image). */
export const EXAMPLE_CONFIG = join(dirname(SHIPPED_RULES_DIR), 'deploy', 'haystack.example.yaml');

export function registerConfigCommands(program: Command): void {
  const cfg = program.command('config').description('write a commented configuration, or inspect the effective one');
  cfg
    .command('init')
    .description('write a configuration file listing every key with its default and meaning (deploy/haystack.example.yaml) to edit')
    .option('--out <file>', 'where to write it', 'haystack.yaml')
    .option('--force', 'overwrite an existing file')
    .action(
      action((opts: { out: string; force?: boolean }) => {
        const out = resolve(opts.out);
        if (existsSync(out) && !opts.force) throw new UserError(`--out ${opts.out} exists: keep it, or add --force to overwrite it`, 2);
        if (!existsSync(dirname(out))) throw new UserError(`--out ${opts.out}: no such directory ${dirname(out)}`, 2);
        copyFileSync(EXAMPLE_CONFIG, out);
        process.stdout.write(`wrote ${out}: every key with its default; edit it, then run commands with -c ${opts.out} (or HAYSTACK_CONFIG=${opts.out})\n`);
      }),
    );
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
