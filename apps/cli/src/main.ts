#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerConfigCommands } from './commands/config.js';
import { registerIngestCommands } from './commands/ingest.js';
import { registerDemoCommands } from './commands/demo.js';
import { registerHitlistCommands } from './commands/hitlist.js';
import { registerSimulateCommands } from './commands/simulate.js';
import { registerBackendsCommands, registerReportCommands } from './commands/report.js';
import { registerSizingCommands } from './commands/sizing.js';
import { registerDetectCommands } from './commands/detect.js';
import { registerRunCommands } from './commands/run.js';
import { registerRulesCommands } from './commands/rules.js';
import { registerPdnsCommands } from './commands/pdns.js';
import { registerConsoleCommands } from './commands/console.js';

const program = new Command('haystack')
  .description(
    'Haystack: detect IoT devices behind subscriber lines from sampled NetFlow v5/v9, IPFIX and sFlow.\n' +
      'Runs embedded (no Kafka, ClickHouse server or Redis) unless the configuration names them.',
  )
  .option('-c, --config <file>', 'YAML configuration file (also $HAYSTACK_CONFIG); HAYSTACK_<SECTION>__<KEY> variables override it')
  .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
  .version((JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version, '-V, --version');

// Usage mistakes (unknown option, bad argument) exit 2; --help and --version exit 0.
program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
// `haystack decode … | head`: the reader went away; stop quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

// One line per command group; each lives in ./commands/<group>.ts.
registerConfigCommands(program);
registerIngestCommands(program);
registerDemoCommands(program);
registerHitlistCommands(program);
registerSimulateCommands(program);
registerReportCommands(program);
registerBackendsCommands(program);
registerSizingCommands(program);
registerDetectCommands(program);
registerRunCommands(program);
registerRulesCommands(program);
registerPdnsCommands(program);
registerConsoleCommands(program);

await program.parseAsync();
