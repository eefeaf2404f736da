import type { Command } from 'commander';
import { resolve } from 'node:path';
import { recordHitlistThroughConsole, runningConsole } from '@haystack/console';
import { runBuildCommand, runDiffCommand, runShowCommand } from '@haystack/hitlist/commands';
import { backendsOptions } from '@haystack/hitlist';
import { SHIPPED_RULES_DIR } from '@haystack/rules';
import { collectMany, day, inputFile, positiveInt as int, share, writableDir } from '../args.js';
import { action, runtime, UserError } from '../runtime.js';

/** The rules/ shipped with Haystack, wherever the command runs from. */
const defaultRulesDir = (): string => SHIPPED_RULES_DIR;

export function registerHitlistCommands(program: Command): void {
  const hl = program.command('hitlist').description('build, inspect and compare the daily hitlist of dedicated IoT service addresses and detection rules');

  hl.command('build')
    .description(
      "build day D's hitlist and rules from rules/, passive DNS and certificate scans; writes <stateDir>/hitlist/<D>/, " +
        'publishes to Redis when redis.url is set and records history in ClickHouse (embedded chdb unless clickhouse.url)',
    )
    .requiredOption('--day <D>', 'build day (UTC, YYYY-MM-DD): the look-back window ends on it', day)
    .option(
      '--pdns <file...>',
      'passive DNS files, COF or DNSDB API v2 JSON lines, plain or gzip (several after one flag, or the flag repeated)',
      collectMany,
      [],
    )
    .option(
      '--pdns-store',
      'also read the passive DNS `haystack pdns` collected from your resolvers (dnstap) in ClickHouse (embedded: stop `haystack pdns`/`run` first; chdb allows one process)',
    )
    .option('--certs <file...>', 'certificate/host scan files, Censys-style JSON lines, plain or gzip (several, or repeated)', collectMany, [])
    .option('--out <dir>', 'also write hitlist.csv, hitlist.json, rules.json and the decisions here')
    .option('--rules <dir>', 'IoT dictionary directory (default: the rules/ shipped with Haystack)')
    .option('--lookback <days>', 'look-back window in days (default from rules/policy.yaml)', int)
    .option('--threshold <n>', 'evidence domains a line must contact (default from rules/policy.yaml)', int)
    .option('--min-primary <n>', 'minimum dedicated primary domains per product', int)
    .option('--min-dedicated-share <x>', "minimum dedicated share of a product's resolved primary domains (0..1)", share)
    .option('--tmp-dir <dir>', 'where the temporary spill files go (default: the OS temp dir)')
    .option('--no-publish', 'do not publish to the hitlist store')
    .option('--no-activate', 'publish without switching the active day (backfill)')
    .option('--no-history', 'do not record the build in ClickHouse')
    .option('--force', 'use the new hitlist even if it has far fewer entries than the latest built day (policy maxShrink)')
    .option('--json', 'print the build report as JSON')
    .action(
      action(
        async (
          opts: {
            day: string;
            pdns: string[];
            pdnsStore?: boolean;
            certs: string[];
            out?: string;
            rules?: string;
            lookback?: number;
            threshold?: number;
            minPrimary?: number;
            minDedicatedShare?: number;
            tmpDir?: string;
            publish: boolean;
            activate: boolean;
            history: boolean;
            json?: boolean;
            force?: boolean;
          },
          cmd: Command,
        ) => {
          const { config, log } = runtime(cmd);
          if (opts.pdns.length === 0 && !opts.pdnsStore)
            throw new UserError(
              'give at least one --pdns file (passive DNS: COF or DNSDB API v2 JSON lines, plain or gzip), or --pdns-store (your resolvers via haystack pdns)',
              2,
            );
          for (const f of opts.pdns) inputFile(f, 'passive DNS input');
          for (const f of opts.certs) inputFile(f, 'certificate input');
          if (opts.out) writableDir(resolve(opts.out), '--out');
          await runBuildCommand(
            {
              day: opts.day,
              pdns: opts.pdns,
              pdnsStore: opts.pdnsStore ?? false,
              pdnsRetentionDays: config.pdns.retentionDays,
              certs: opts.certs,
              out: opts.out,
              rulesDir: opts.rules ? resolve(opts.rules) : defaultRulesDir(),
              stateDir: config.stateDir,
              tmpDir: opts.tmpDir,
              policy: { lookbackDays: opts.lookback, threshold: opts.threshold, minPrimaryDomains: opts.minPrimary, minDedicatedShare: opts.minDedicatedShare },
              publish: opts.publish,
              activate: opts.activate,
              history: opts.history,
              redis: config.redis,
              clickhouse: config.clickhouse,
              json: opts.json ?? false,
              force: opts.force ?? false,
              backends: backendsOptions(config),
              log,
              recordThroughHolder: async (d) => {
                const c = runningConsole(config);
                if (!c) return null;
                const n = await recordHitlistThroughConsole(c, d);
                return `recorded by the running process (pid ${c.pid}, through its console): ${n.entries.toLocaleString('en-US')} entry rows, ${n.classes} class and ${n.domains} domain decisions`;
              },
            },
            (s) => process.stdout.write(s),
          );
        },
      ),
    );

  hl.command('show')
    .description('classes with their levels, address counts and reasons, from <stateDir>/hitlist/<D>/ (no server needed)')
    .requiredOption('--day <D>', 'day (YYYY-MM-DD)', day)
    .option('--dir <dir>', 'read this directory instead (e.g. a build --out)')
    .option('--json', 'print as JSON')
    .action(
      action((opts: { day: string; dir?: string; json?: boolean }, cmd: Command) => {
        const { config } = runtime(cmd);
        runShowCommand({ stateDir: config.stateDir, day: opts.day, dir: opts.dir, json: opts.json ?? false }, (s) => process.stdout.write(s));
      }),
    );

  hl.command('diff')
    .description("what changed between two days' hitlists: entries, addresses, domains, class rules")
    .argument('<D1>', 'earlier day (YYYY-MM-DD)', day)
    .argument('<D2>', 'later day (YYYY-MM-DD)', day)
    .option('--json', 'print as JSON')
    .action(
      action((d1: string, d2: string, opts: { json?: boolean }, cmd: Command) => {
        const { config } = runtime(cmd);
        runDiffCommand({ stateDir: config.stateDir, from: d1, to: d2, json: opts.json ?? false }, (s) => process.stdout.write(s));
      }),
    );
}
